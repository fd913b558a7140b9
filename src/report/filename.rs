//! File names from meter ids. Meter ids come from input files and are untrusted: `../x`,
//! `a/b`, `<script>`, spaces, `CON` or 300 characters must neither leave the report folder nor
//! break a link. [`file_stem`] maps an id to a stem that is safe on Linux, macOS and Windows
//! and in a URL, the same stem for the same id in every run:
//!
//! - an id of 1-64 characters from `[A-Za-z0-9_-]`, not starting with `-` and not a Windows
//!   device name, is its own stem (`M000081` -> `M000081`), so inspectors recognise files;
//! - any other id becomes its cleaned prefix, a dot and the 64-bit FNV-1a hash of its bytes in
//!   hex (`../etc/passwd` -> `etc_passwd.<16 hex>`). Clean stems have no dot, so the two kinds
//!   never collide; two hashed ids collide only if their 64-bit hashes do.
//!
//! [`FileNames`] assigns the stems of one report and resolves what one stem cannot: ids equal
//! up to case (`m1`, `M1`: one file on case-insensitive file systems) both take the hashed
//! form, and a hash collision is an error rather than an overwritten page.
//!
//! This is the crate's one safe file-name function. Charts people open by name (feeders,
//! regions: `charts/feeder_<stem>.png`, `charts/drop_<stem>.png`) use
//! [`FileNames::readable`]: a name's [`readable_stem`] (`Zone 1` -> `Zone_1`) when no other
//! name of the set shares it (up to case) and it is safe, else the hashed stem, so two regions
//! never share a chart file (`Zone 1` and `Zone_1` do not).

use std::collections::{BTreeMap, HashMap};

/// Longest id kept as it is.
pub const MAX_CLEAN_LEN: usize = 64;
/// Longest cleaned prefix before the hash.
pub const MAX_PREFIX_LEN: usize = 40;

/// Windows device names, reserved with any extension.
const RESERVED: [&str; 22] = [
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

fn safe_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// FNV-1a, 64 bit (Fowler, Noll, Vo): stable across runs, platforms and Rust versions, unlike
/// `std`'s `DefaultHasher`.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Whether `id` can be used as a file stem unchanged.
pub fn is_clean(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_CLEAN_LEN
        && id.chars().all(safe_char)
        && !id.starts_with('-')
        && !RESERVED.iter().any(|r| r.eq_ignore_ascii_case(id))
}

/// The hashed stem of `id`: cleaned prefix (runs of other characters become one `_`), a dot,
/// 16 hex digits.
pub fn hashed_stem(id: &str) -> String {
    let mut prefix = String::new();
    for c in id.chars() {
        let c = if safe_char(c) { c } else { '_' };
        if !(c == '_' && prefix.ends_with('_')) {
            prefix.push(c);
        }
        if prefix.len() >= MAX_PREFIX_LEN {
            break;
        }
    }
    let prefix = prefix.trim_matches(|c| c == '_' || c == '-');
    let prefix = if prefix.is_empty() { "meter" } else { prefix };
    format!("{prefix}.{:016x}", fnv1a64(id.as_bytes()))
}

/// The file stem of one id (see the module doc).
pub fn file_stem(id: &str) -> String {
    if is_clean(id) {
        id.to_string()
    } else {
        hashed_stem(id)
    }
}

/// A readable stem: characters other than ASCII letters, digits, `-`, `_` and `.` become `_`
/// (`Zone 1/Power` -> `Zone_1_Power`). Not always safe or unique alone: see
/// [`FileNames::readable`].
pub fn readable_stem(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Whether a readable stem can be used as a file stem: non-empty, not starting with `.` or
/// `-`, no `..`, not too long, not a Windows device name.
fn readable_is_safe(stem: &str) -> bool {
    !stem.is_empty()
        && stem.len() <= MAX_CLEAN_LEN
        && !stem.starts_with(['.', '-'])
        && !stem.contains("..")
        && !RESERVED
            .iter()
            .any(|r| r.eq_ignore_ascii_case(stem.split('.').next().unwrap_or(stem)))
}

/// Two ids that would share a file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("meter ids {a:?} and {b:?} map to the same report file name {stem:?}")]
pub struct NameCollision {
    pub a: String,
    pub b: String,
    pub stem: String,
}

/// The stems of one report's meters.
#[derive(Debug, Clone, Default)]
pub struct FileNames {
    stems: HashMap<String, String>,
}

impl FileNames {
    /// Assigns stems to `ids`; ids equal up to ASCII case take the hashed form.
    pub fn new<'a>(ids: impl IntoIterator<Item = &'a str>) -> Result<Self, NameCollision> {
        let ids: Vec<&str> = ids.into_iter().collect();
        let mut by_folded: BTreeMap<String, usize> = BTreeMap::new();
        for id in &ids {
            if is_clean(id) {
                *by_folded.entry(id.to_ascii_lowercase()).or_default() += 1;
            }
        }
        let mut stems = HashMap::with_capacity(ids.len());
        let mut taken: HashMap<String, &str> = HashMap::with_capacity(ids.len());
        for id in ids {
            let clash = is_clean(id)
                && by_folded
                    .get(&id.to_ascii_lowercase())
                    .is_some_and(|&n| n > 1);
            let stem = if clash {
                hashed_stem(id)
            } else {
                file_stem(id)
            };
            if let Some(other) = taken.get(&stem.to_ascii_lowercase()) {
                if *other != id {
                    return Err(NameCollision {
                        a: other.to_string(),
                        b: id.to_string(),
                        stem,
                    });
                }
            }
            taken.insert(stem.to_ascii_lowercase(), id);
            stems.insert(id.to_string(), stem);
        }
        Ok(FileNames { stems })
    }

    /// Readable stems for `names` (feeder ids, region names): each name's [`readable_stem`]
    /// when it is safe and no other name has the same one up to ASCII case, else its hashed
    /// stem. Distinct names always get distinct stems (up to a 64-bit hash collision).
    pub fn readable<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        let names: Vec<&str> = names.into_iter().collect();
        let mut count: BTreeMap<String, usize> = BTreeMap::new();
        for n in &names {
            *count
                .entry(readable_stem(n).to_ascii_lowercase())
                .or_default() += 1;
        }
        let stems = names
            .iter()
            .map(|n| {
                let r = readable_stem(n);
                let unique = count.get(&r.to_ascii_lowercase()) == Some(&1);
                // A hashed stem has a dot and 16 hex digits: a readable stem of that shape
                // could meet one, so it is hashed too.
                let looks_hashed = r.rsplit_once('.').is_some_and(|(_, h)| {
                    h.len() == 16 && h.chars().all(|c| c.is_ascii_hexdigit())
                });
                let stem = if unique && readable_is_safe(&r) && !looks_hashed {
                    r
                } else {
                    hashed_stem(n)
                };
                (n.to_string(), stem)
            })
            .collect();
        FileNames { stems }
    }

    /// The stem of `id` (its own [`file_stem`] when it was not among the ids given).
    pub fn stem(&self, id: &str) -> String {
        self.stems.get(id).cloned().unwrap_or_else(|| file_stem(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stem_is_safe(s: &str) {
        assert!(!s.is_empty() && s.len() <= MAX_PREFIX_LEN + 17, "{s}");
        let (head, hash) = s.split_once('.').unwrap_or((s, ""));
        assert!(head.chars().all(safe_char), "{s}");
        assert!(!head.is_empty() && !head.starts_with('-'), "{s}");
        assert!(
            hash.is_empty() || (hash.len() == 16 && hash.chars().all(|c| c.is_ascii_hexdigit()))
        );
        assert!(!s.contains(".."), "{s}");
    }

    #[test]
    fn clean_ids_are_kept_and_hostile_ones_hashed() {
        assert_eq!(file_stem("M000081"), "M000081");
        assert_eq!(file_stem("nmi_4102_E1"), "nmi_4102_E1");
        for id in [
            "../../etc/passwd",
            "..",
            ".",
            "a/b",
            "a\\b",
            "<script>alert(1)</script>",
            "\"quoted\" 'id'",
            "CON",
            "con",
            "-rf",
            "",
            "  ",
            "ünïcødé",
            "a b?c#d%20e",
            &"x".repeat(300),
            "\0nul",
        ] {
            let s = file_stem(id);
            stem_is_safe(&s);
            assert_ne!(s, id, "{id:?} must not be used as is");
            assert_eq!(s, file_stem(id), "stable");
        }
        assert!(file_stem("../../etc/passwd").starts_with("etc_passwd."));
        assert!(file_stem("").starts_with("meter."));
    }

    #[test]
    fn stems_are_unique_and_case_safe() {
        let ids = ["a/b", "a_b", "a?b", "M1", "m1", "M2"];
        let names = FileNames::new(ids).unwrap();
        let stems: Vec<String> = ids.iter().map(|i| names.stem(i)).collect();
        let mut folded: Vec<String> = stems.iter().map(|s| s.to_ascii_lowercase()).collect();
        folded.sort();
        folded.dedup();
        assert_eq!(folded.len(), ids.len(), "{stems:?}");
        assert_eq!(names.stem("a_b"), "a_b");
        assert_eq!(names.stem("M2"), "M2");
        assert!(names.stem("M1").starts_with("M1."));
        // The mapping of an id does not depend on the other ids (case clashes aside).
        assert_eq!(
            FileNames::new(["a/b"]).unwrap().stem("a/b"),
            names.stem("a/b")
        );
    }

    #[test]
    fn readable_stems_are_unique_and_safe() {
        let names = [
            "F0001",
            "Zone 1",
            "Zone_1",
            "zone_2",
            "..",
            "",
            "Zone 3/Power",
            "CON",
        ];
        let f = FileNames::readable(names);
        assert_eq!(f.stem("F0001"), "F0001");
        assert_eq!(f.stem("zone_2"), "zone_2");
        assert_eq!(f.stem("Zone 3/Power"), "Zone_3_Power");
        // Two regions that read the same get distinct, hashed stems.
        assert_ne!(f.stem("Zone 1"), f.stem("Zone_1"));
        assert!(f.stem("Zone 1").starts_with("Zone_1."));
        for n in ["..", "", "CON"] {
            stem_is_safe(&f.stem(n));
        }
        let mut all: Vec<String> = names
            .iter()
            .map(|n| f.stem(n).to_ascii_lowercase())
            .collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), names.len());
        // Alone, a readable name keeps its readable stem.
        assert_eq!(FileNames::readable(["Zone 1"]).stem("Zone 1"), "Zone_1");
    }

    #[test]
    fn fnv_reference_values() {
        // Published FNV-1a 64 test vectors.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }
}
