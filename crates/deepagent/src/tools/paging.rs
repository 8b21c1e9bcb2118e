//! `read_file` output that fits the tool result cap: whole lines only,
//! with the offset to continue from, and lines too long for one read cut
//! into pieces that `char_offset` reaches.

use deepagent_core::ReadSlice;

/// Room kept under the cap for the closing hint.
const HINT_ROOM: usize = 200;

/// Renders `slice` as numbered lines (`{:>6}\t{line}`, 1-based) in at most
/// `cap` characters. `char_offset` skips that many characters of the
/// slice's first line. The output ends with how to continue when the
/// file goes on:
///
/// - `... (N more lines; continue with offset=K)` after the last whole
///   line that fits (the file goes on, or the next line would not fit);
/// - `[line L continues: N more characters; read on with offset=K and
///   char_offset=C]` when a single line is longer than one read.
pub(crate) fn render_paged(slice: &ReadSlice, char_offset: usize, cap: usize) -> String {
    let budget = cap.saturating_sub(HINT_ROOM).max(100);
    let mut out = String::new();
    let mut used = 0;
    for (i, line) in slice.lines.iter().enumerate() {
        let index = slice.offset + i;
        let skip = if i == 0 { char_offset } else { 0 };
        let body = match line.char_indices().nth(skip) {
            Some((at, _)) => &line[at..],
            None if skip == 0 => line.as_str(),
            None => "",
        };
        let prefix = format!("{:>6}\t", index + 1);
        let body_chars = body.chars().count();
        let row = prefix.len() + body_chars + 1;
        if used + row <= budget {
            out.push_str(&prefix);
            out.push_str(body);
            out.push('\n');
            used += row;
            continue;
        }
        if i > 0 {
            // Stop at a whole line; the next read starts with this one.
            let more = slice.total_lines - index;
            out.push_str(&format!(
                "... ({more} more lines; continue with offset={index})"
            ));
            return out;
        }
        // One line longer than a whole read: show a piece of it.
        let room = budget.saturating_sub(prefix.len() + 1).max(1);
        let (piece, rest) = match body.char_indices().nth(room) {
            Some((at, _)) => body.split_at(at),
            None => (body, ""),
        };
        out.push_str(&prefix);
        out.push_str(piece);
        out.push('\n');
        out.push_str(&format!(
            "[line {} continues: {} more characters; read on with offset={index} and char_offset={}]",
            index + 1,
            rest.chars().count(),
            skip + room
        ));
        return out;
    }
    if out.ends_with('\n') {
        out.pop();
    }
    let more = slice.remaining();
    if more > 0 {
        if !out.is_empty() {
            out.push('\n');
        }
        let next = slice.offset + slice.lines.len();
        out.push_str(&format!(
            "... ({more} more lines; continue with offset={next})"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slice(lines: &[&str], offset: usize, total: usize) -> ReadSlice {
        ReadSlice::new(
            "/f",
            offset,
            lines.iter().map(|l| l.to_string()).collect(),
            total,
        )
    }

    #[test]
    fn whole_lines_then_the_offset_to_continue() {
        let s = slice(&["a", "b"], 0, 5);
        assert_eq!(
            render_paged(&s, 0, 20_000),
            "     1\ta\n     2\tb\n... (3 more lines; continue with offset=2)"
        );
    }

    #[test]
    fn a_long_line_is_cut_into_reachable_pieces() {
        let long = "é".repeat(500);
        let s = slice(&[&long], 0, 1);
        let out = render_paged(&s, 0, 300);
        // budget 100: 7 for the prefix and 1 for the newline leave 92.
        assert!(
            out.starts_with(&format!("     1\t{}\n", "é".repeat(92))),
            "{out}"
        );
        assert!(
            out.ends_with(
                "[line 1 continues: 408 more characters; read on with offset=0 and char_offset=92]"
            ),
            "{out}"
        );
        let out = render_paged(&s, 460, 300);
        assert_eq!(out, format!("     1\t{}", "é".repeat(40)));
    }
}
