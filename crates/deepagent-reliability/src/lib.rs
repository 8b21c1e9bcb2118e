//! # deepagent-reliability
//!
//! Adversarial tests for the deepagent backends (not published). The tests
//! live in `tests/`; this library holds what they share:
//!
//! - [`hostile`]: proptest generators of paths a model might invent to get
//!   out of a backend's root (`..` anywhere, `//`, `/./`, percent-encoded
//!   dots, NUL, over-long names, unicode look-alikes), plus a reference
//!   normalizer the real one is compared with;
//! - [`probe`]: every backend operation on one hostile path, and the
//!   rules its results must keep;
//! - [`yard`]: a directory with a backend root inside it and a sentinel
//!   file beside it, so a test can prove nothing outside the root was read,
//!   changed or created.
//!
//! ```
//! use deepagent_reliability::{hostile, yard::Yard};
//!
//! // Percent-encoding is a name, never a way up.
//! assert_eq!(hostile::reference_normalize("%2e%2e/x").as_deref(), Some("/%2e%2e/x"));
//! assert_eq!(hostile::reference_normalize("a/../../x"), None);
//!
//! let yard = Yard::new()?;
//! let before = yard.outside_snapshot()?;
//! std::fs::write(yard.root().join("inside.txt"), "fine")?;
//! assert_eq!(yard.outside_snapshot()?, before);
//! # Ok::<(), std::io::Error>(())
//! ```

#![warn(missing_docs)]

pub mod hostile;
pub mod probe;
pub mod yard;
