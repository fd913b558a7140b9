//! The state's meter index (the `meter_index` table): numbers each meter the first time a
//! block holds it and never renumbers or reuses a number, so a block written on one night reads
//! the same on every later night. Inputs: the database, a block's meter ids; outputs: their
//! numbers (new ones recorded at once).

use rustc_hash::FxHashMap;

use super::super::db;

/// The state's meter index: meter id <-> a number, assigned once, in order of first sight.
#[derive(Debug, Default)]
pub struct MeterIndex {
    ids: Vec<Box<str>>,
    by_id: FxHashMap<Box<str>, u32>,
}

impl MeterIndex {
    /// The index as recorded in the database.
    pub fn load(conn: &rusqlite::Connection) -> rusqlite::Result<Self> {
        let mut m = MeterIndex::default();
        for (idx, id) in db::meter_index(conn)? {
            if idx as usize != m.ids.len() {
                return Err(rusqlite::Error::InvalidParameterName(format!(
                    "meter_index: number {idx} after {} numbers (the numbers must run from 0 \
                     without gaps)",
                    m.ids.len()
                )));
            }
            m.by_id.insert(id.clone(), idx);
            m.ids.push(id);
        }
        Ok(m)
    }

    /// The numbers of `ids`; meters seen for the first time are numbered and recorded (one
    /// transaction, committed at once: blocks written before the night commits refer to them).
    pub fn register(
        &mut self,
        conn: &mut rusqlite::Connection,
        ids: &[Box<str>],
    ) -> rusqlite::Result<Vec<u32>> {
        let fresh: Vec<&Box<str>> = ids
            .iter()
            .filter(|id| !self.by_id.contains_key(*id))
            .collect();
        if !fresh.is_empty() {
            let first = self.ids.len() as u32;
            db::insert_meter_index(conn, first, fresh.iter().map(|s| &***s))?;
            for (k, id) in fresh.into_iter().enumerate() {
                self.by_id.insert(id.clone(), first + k as u32);
                self.ids.push(id.clone());
            }
        }
        Ok(ids.iter().map(|id| self.by_id[id]).collect())
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The meter of number `idx`.
    pub fn id(&self, idx: u32) -> Option<&str> {
        self.ids.get(idx as usize).map(|s| &**s)
    }
}
