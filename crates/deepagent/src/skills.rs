//! Skills: folders of instructions the agent reads when a task calls for
//! them, in the format of Anthropic's Agent Skills and deepagents.
//!
//! A skill is a folder with a `SKILL.md` whose YAML front matter names and
//! describes it; the rest of the file (and any other file in the folder)
//! is what the agent reads when it uses the skill:
//!
//! ```text
//! /skills/
//!   release-notes/
//!     SKILL.md        ---
//!                     name: release-notes
//!                     description: Write release notes from a git log. Use when asked for a changelog.
//!                     ---
//!                     # Writing release notes
//!                     1. ...
//!     template.md
//! ```
//!
//! Configured with [`DeepAgentBuilder::skills`](crate::DeepAgentBuilder::skills),
//! the skill folders are found on the run's backend when each run starts.
//! Only the names, descriptions and paths go into the system prompt
//! (progressive disclosure: a hundred skills cost a hundred lines); the
//! model reads a skill's `SKILL.md` with `read_file` when a task matches
//! its description, and the other files of the folder when the skill
//! points to them.
//!
//! A `SKILL.md` whose front matter is missing or wrong is left out, and
//! the prompt lists it with the reason, so the model can tell the user (or
//! fix it); [`load_skills`] gives the same list to the caller.

use deepagent_core::Backend;

/// The conventional folder for skills, `/skills/`.
pub const DEFAULT_SKILLS_DIR: &str = "/skills/";

/// The longest `name` allowed (Agent Skills' limit).
pub const MAX_NAME_LEN: usize = 64;
/// The longest `description` allowed (Agent Skills' limit).
pub const MAX_DESCRIPTION_LEN: usize = 1024;

/// A skill found on the backend: what the prompt lists.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Skill {
    /// `name` from the front matter.
    pub name: String,
    /// `description` from the front matter: what it does and when to use it.
    pub description: String,
    /// The path of its `SKILL.md` on the backend.
    pub path: String,
}

/// A `SKILL.md` that could not be used, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SkillProblem {
    /// The path of the `SKILL.md`.
    pub path: String,
    /// What is wrong with it, in words.
    pub message: String,
}

impl std::fmt::Display for SkillProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// The skills found under some folders, and the ones left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SkillsLoad {
    /// Usable skills, by name (a later folder's skill replaces an earlier
    /// one of the same name).
    pub skills: Vec<Skill>,
    /// `SKILL.md` files left out.
    pub problems: Vec<SkillProblem>,
}

/// Finds the skills in `dirs` on `backend`: every direct subfolder with a
/// `SKILL.md`. A folder that does not exist has no skills; a subfolder
/// without `SKILL.md` is not a skill.
///
/// ```
/// use deepagent::skills::load_skills;
/// use deepagent::{Backend, StateBackend};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let backend = StateBackend::new();
/// backend.write("/skills/greet/SKILL.md", "---\nname: greet\ndescription: Greets people.\n---\nSay hello.\n".into()).await.unwrap();
/// backend.write("/skills/broken/SKILL.md", "no front matter".into()).await.unwrap();
/// let found = load_skills(&backend, &["/skills/"]).await;
/// assert_eq!(found.skills[0].name, "greet");
/// assert_eq!(found.skills[0].path, "/skills/greet/SKILL.md");
/// assert_eq!(found.problems[0].path, "/skills/broken/SKILL.md");
/// # }
/// ```
pub async fn load_skills<S: AsRef<str>>(backend: &dyn Backend, dirs: &[S]) -> SkillsLoad {
    let mut load = SkillsLoad::default();
    for dir in dirs {
        let dir = dir.as_ref();
        let mut entries = match backend.ls(dir).await {
            Ok(e) => e,
            Err(e) if e.is_not_found() => continue,
            Err(e) => {
                load.problems.push(SkillProblem {
                    path: dir.to_owned(),
                    message: format!("the skills folder could not be listed: {e}"),
                });
                continue;
            }
        };
        entries.retain(|e| e.is_dir);
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        for entry in entries {
            let path = format!("{}/SKILL.md", entry.path.trim_end_matches('/'));
            let bytes = match backend.read_bytes(&path).await {
                Ok(b) => b,
                Err(e) if e.is_not_found() => continue,
                Err(e) => {
                    load.problems.push(SkillProblem {
                        path,
                        message: format!("could not be read: {e}"),
                    });
                    continue;
                }
            };
            let text = String::from_utf8_lossy(&bytes);
            match parse_skill(&text) {
                Ok((name, description)) => {
                    load.skills.retain(|s| s.name != name);
                    load.skills.push(Skill {
                        name,
                        description,
                        path,
                    });
                }
                Err(message) => load.problems.push(SkillProblem { path, message }),
            }
        }
    }
    load.skills.sort_by(|a, b| a.name.cmp(&b.name));
    load
}

/// Reads `name` and `description` from a `SKILL.md`'s front matter (the
/// YAML between the first two `---` lines). Plain, quoted and block
/// (`|`, `>`) values are understood; other keys are ignored.
///
/// ```
/// use deepagent::skills::parse_skill;
/// let md = "---\nname: pdf\ndescription: >\n  Reads PDFs.\n  Use for any .pdf file.\n---\nbody";
/// assert_eq!(parse_skill(md).unwrap(), ("pdf".into(), "Reads PDFs. Use for any .pdf file.".into()));
/// assert!(parse_skill("# no front matter").unwrap_err().contains("front matter"));
/// ```
pub fn parse_skill(text: &str) -> Result<(String, String), String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.lines();
    if lines.next().map(str::trim_end) != Some("---") {
        return Err("SKILL.md must start with YAML front matter: a `---` line, `name: ...` and `description: ...`, and a closing `---`".into());
    }
    let mut front = Vec::new();
    let mut closed = false;
    for line in lines {
        if line.trim_end() == "---" {
            closed = true;
            break;
        }
        front.push(line);
    }
    if !closed {
        return Err("the front matter has no closing `---` line".into());
    }
    let fields = parse_front_matter(&front)?;
    let get = |key: &str| {
        fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let name = get("name").ok_or("the front matter has no `name`")?;
    let description = get("description").ok_or("the front matter has no `description`")?;
    if name.chars().count() > MAX_NAME_LEN
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(format!(
            "the name {name:?} must be at most {MAX_NAME_LEN} lowercase letters, digits and hyphens"
        ));
    }
    if description.chars().count() > MAX_DESCRIPTION_LEN {
        return Err(format!(
            "the description is {} characters long; at most {MAX_DESCRIPTION_LEN} are allowed",
            description.chars().count()
        ));
    }
    Ok((name, description))
}

/// The top-level `key: value` pairs of a small YAML mapping.
fn parse_front_matter(lines: &[&str]) -> Result<Vec<(String, String)>, String> {
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        i += 1;
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            // Belongs to a nested value of a key we do not read.
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            return Err(format!(
                "front matter line {i} is not `key: value`: {:?}",
                line.trim()
            ));
        };
        let key = key.trim().to_owned();
        let value = value.trim();
        // The indented lines that continue this value.
        let start = i;
        while i < lines.len() && (lines[i].trim().is_empty() || lines[i].starts_with([' ', '\t'])) {
            i += 1;
        }
        let more: Vec<&str> = lines[start..i].iter().map(|l| l.trim()).collect();
        let value = match value.chars().next() {
            Some('|') => more.join("\n").trim().to_owned(),
            Some('>') => fold(&more),
            Some('"') => unquote_double(value).ok_or_else(|| {
                format!("the value of `{key}` has an unclosed or invalid double quote")
            })?,
            Some('\'') => unquote_single(value)
                .ok_or_else(|| format!("the value of `{key}` has an unclosed single quote"))?,
            _ => {
                let mut all = vec![value];
                all.extend(more);
                fold(&all)
            }
        };
        fields.push((key, value));
    }
    Ok(fields)
}

/// Joins lines with spaces, keeping blank lines as paragraph breaks.
fn fold(lines: &[&str]) -> String {
    let mut out = String::new();
    for l in lines {
        if l.is_empty() {
            out.push('\n');
        } else {
            if !out.is_empty() && !out.ends_with('\n') {
                out.push(' ');
            }
            out.push_str(l);
        }
    }
    out.trim().to_owned()
}

fn unquote_double(v: &str) -> Option<String> {
    let inner = v.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                other => out.push(other),
            },
            '"' => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

fn unquote_single(v: &str) -> Option<String> {
    let inner = v.strip_prefix('\'')?.strip_suffix('\'')?;
    Some(inner.replace("''", "'"))
}

/// The system prompt's skills section, `None` when there is nothing to say.
pub(crate) fn prompt_section(load: &SkillsLoad) -> Option<String> {
    if load.skills.is_empty() && load.problems.is_empty() {
        return None;
    }
    let mut s = String::from("## Skills\n");
    if !load.skills.is_empty() {
        s.push_str(
            "Skills are folders of instructions (sometimes with scripts or reference files) for \
particular kinds of task. When a task matches a skill's description, read its SKILL.md with \
read_file before you start, and follow it; read the other files of its folder only when it \
points you to them. Available skills:",
        );
        for skill in &load.skills {
            s.push_str(&format!(
                "\n- {}: {} ({})",
                skill.name, skill.description, skill.path
            ));
        }
    }
    if !load.problems.is_empty() {
        if !load.skills.is_empty() {
            s.push_str("\n\n");
        }
        s.push_str(
            "These skill files could not be loaded; mention it if the user asks for what they \
might cover:",
        );
        for p in &load.problems {
            s.push_str(&format!("\n- {p}"));
        }
    }
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_and_literal_values() {
        let md = "---\nname: \"a-b\"\ndescription: 'it''s: fine'\nlicense: MIT\nmetadata:\n  x: 1\n---\n";
        assert_eq!(
            parse_skill(md).unwrap(),
            ("a-b".into(), "it's: fine".into())
        );
        let md = "---\nname: a\ndescription: |\n  line one\n  line two\n---\n";
        assert_eq!(parse_skill(md).unwrap().1, "line one\nline two");
        let md = "---\nname: a\ndescription: starts here\n  and goes on\n---\n";
        assert_eq!(parse_skill(md).unwrap().1, "starts here and goes on");
    }

    #[test]
    fn bad_front_matter_says_what_is_wrong() {
        let cases = [
            ("---\nname: a\n", "closing"),
            ("---\nname: a\n---\n", "no `description`"),
            ("---\ndescription: d\n---\n", "no `name`"),
            ("---\nname: Has Caps\ndescription: d\n---\n", "lowercase"),
            ("---\nname: a\ndescription: \"open\n---\n", "double quote"),
            ("---\njust text\n---\n", "not `key: value`"),
        ];
        for (md, expected) in cases {
            let err = parse_skill(md).unwrap_err();
            assert!(err.contains(expected), "{md:?}: {err}");
        }
        let long = format!("---\nname: a\ndescription: {}\n---\n", "x".repeat(1025));
        assert!(parse_skill(&long).unwrap_err().contains("1025 characters"));
    }
}
