//! Sessions on disk: `.deepagent/sessions/<ID>/session.json` (the
//! conversation, todos, usage, a run waiting for approval) and
//! `journal.json` (what each turn changed, for `/undo` in a later process).

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use deepagent::core::layers::Turn;
use deepagent::{Bytes, Message, RunState, Todo, Usage};
use serde::{Deserialize, Serialize};

/// Where sessions live, below the directory the CLI runs in.
pub const SESSIONS_DIR: &str = ".deepagent/sessions";

/// One saved session.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Session {
    /// The session id (its directory name).
    pub id: String,
    /// Unix seconds when it started.
    pub created: u64,
    /// Unix seconds of the last save.
    pub updated: u64,
    /// The model of the last turn.
    #[serde(default)]
    pub model: String,
    /// The conversation of the finished turns.
    #[serde(default)]
    pub messages: Vec<Message>,
    /// The todo list.
    #[serde(default)]
    pub todos: Vec<Todo>,
    /// What the finished turns spent.
    #[serde(default)]
    pub usage: Usage,
    /// A run that stopped for approval: its calls wait for decisions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused: Option<RunState>,
    /// The label of the turn in progress (what its journal turn is
    /// called), so a paused run resumed later goes on in the same turn.
    #[serde(default)]
    pub turn_label: String,
    /// Tools the user approved "always" in this session.
    #[serde(default)]
    pub always_approve: Vec<String>,
    /// Said to the model before the next prompt (e.g. that the user
    /// undid a turn), so it does not trust what it remembers.
    #[serde(default)]
    pub notes: Vec<String>,
}

/// Unix seconds now.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `YYYYMMDD-HHMMSS-xxxx` (UTC, then 4 hex digits against collisions):
/// sorts by time and reads as one.
pub fn new_id() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs();
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{y:04}{m:02}{d:02}-{:02}{:02}{:02}-{:04x}",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60,
        (now.subsec_nanos() ^ std::process::id()) & 0xffff
    )
}

/// Days since 1970-01-01 to a (year, month, day) date (Howard Hinnant's
/// algorithm), so ids need no date crate.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// The sessions of one project directory.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    /// Sessions under `project/.deepagent/sessions`.
    pub fn new(project: &Path) -> Self {
        Store {
            root: project.join(SESSIONS_DIR),
        }
    }

    fn dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    /// Every saved session, newest (last saved) first.
    pub fn list(&self) -> Vec<Session> {
        let Ok(entries) = std::fs::read_dir(&self.root) else {
            return Vec::new();
        };
        let mut out: Vec<Session> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| self.load(&e.file_name().to_string_lossy()).ok())
            .collect();
        out.sort_by(|a, b| b.updated.cmp(&a.updated).then(b.id.cmp(&a.id)));
        out
    }

    /// The session `id`, or the newest one for `None` / an empty id.
    pub fn find(&self, id: Option<&str>) -> Result<Session, String> {
        match id.filter(|i| !i.trim().is_empty()) {
            Some(id) => self.load(id.trim()),
            None => self.list().into_iter().next().ok_or_else(|| {
                format!(
                    "no saved session in {}; start one with `deepagent`",
                    self.root.display()
                )
            }),
        }
    }

    /// Loads one session.
    pub fn load(&self, id: &str) -> Result<Session, String> {
        if id.contains('/') || id.contains('\\') || id.starts_with('.') {
            return Err(format!("{id:?} is not a session id"));
        }
        let path = self.dir(id).join("session.json");
        let text = std::fs::read_to_string(&path).map_err(|e| {
            format!(
                "session {id}: cannot read {}: {e}; `deepagent sessions` lists the saved ones",
                path.display()
            )
        })?;
        serde_json::from_str(&text)
            .map_err(|e| format!("session {id}: {} is damaged: {e}", path.display()))
    }

    /// Saves a session (atomically: a reader never sees half a file).
    pub fn save(&self, session: &mut Session) -> Result<(), String> {
        session.updated = now_secs();
        let text = serde_json::to_string_pretty(session)
            .map_err(|e| format!("session {}: cannot encode: {e}", session.id))?;
        self.write(&session.id, "session.json", &text)
    }

    fn write(&self, id: &str, file: &str, text: &str) -> Result<(), String> {
        let dir = self.dir(id);
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let tmp = dir.join(format!(".{file}.tmp"));
        let path = dir.join(file);
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|e| format!("cannot save {}: {e}", path.display()))
    }

    /// The journal of a session (empty when none was saved).
    pub fn load_journal(&self, id: &str) -> Result<Vec<Turn>, String> {
        let path = self.dir(id).join("journal.json");
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        let saved: Vec<SavedTurn> = serde_json::from_str(&text)
            .map_err(|e| format!("{} is damaged: {e}", path.display()))?;
        saved.into_iter().map(SavedTurn::into_turn).collect()
    }

    /// Saves the journal of a session.
    pub fn save_journal(&self, id: &str, turns: &[Turn]) -> Result<(), String> {
        let saved: Vec<SavedTurn> = turns.iter().map(SavedTurn::from_turn).collect();
        let text = serde_json::to_string(&saved)
            .map_err(|e| format!("session {id}: cannot encode the journal: {e}"))?;
        self.write(id, "journal.json", &text)
    }
}

/// A journal turn as JSON; contents in base64 (files may be binary).
#[derive(Serialize, Deserialize)]
struct SavedTurn {
    label: String,
    #[serde(default)]
    ran_commands: bool,
    #[serde(default)]
    created_dirs: Vec<String>,
    changes: Vec<SavedChange>,
}

#[derive(Serialize, Deserialize)]
struct SavedChange {
    path: String,
    /// `null`: no file was there before the turn.
    before: Option<String>,
}

impl SavedTurn {
    fn from_turn(turn: &Turn) -> Self {
        let b64 = base64::engine::general_purpose::STANDARD;
        SavedTurn {
            label: turn.label().to_owned(),
            ran_commands: turn.ran_commands(),
            created_dirs: turn.created_dirs().to_vec(),
            changes: turn
                .changes()
                .iter()
                .map(|c| SavedChange {
                    path: c.path.clone(),
                    before: c.before.as_ref().map(|b| b64.encode(b)),
                })
                .collect(),
        }
    }

    fn into_turn(self) -> Result<Turn, String> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut turn = Turn::new(self.label).with_ran_commands(self.ran_commands);
        for dir in self.created_dirs {
            turn = turn.with_created_dir(dir);
        }
        for c in self.changes {
            let before = match c.before {
                Some(text) => Some(Bytes::from(b64.decode(text).map_err(|e| {
                    format!("the journal's copy of {} is damaged: {e}", c.path)
                })?)),
                None => None,
            };
            turn = turn.with_change(c.path, before);
        }
        Ok(turn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_454), (2026, 1, 1));
        let id = new_id();
        assert_eq!(id.len(), "20260101-000000-abcd".len(), "{id}");
    }

    #[test]
    fn sessions_and_journals_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        let mut s = Session {
            id: "20260101-000000-0001".into(),
            messages: vec![Message::user("hi")],
            ..Session::default()
        };
        store.save(&mut s).unwrap();
        assert_eq!(store.find(None).unwrap().messages, s.messages);
        let turn = Turn::new("t")
            .with_change("/project/a", Some(Bytes::from_static(b"\0\xffbin")))
            .with_change("/project/b", None)
            .with_created_dir("/project/new");
        store
            .save_journal(&s.id, std::slice::from_ref(&turn))
            .unwrap();
        assert_eq!(store.load_journal(&s.id).unwrap(), [turn]);
        assert!(store.load("../x").is_err());
    }
}
