//! Owns: the decoder's name → `SymbolId` map, matching both the upper-case `s` fields and
//! the lower-case stream-name prefixes. Never: allocates or hashes with a keyed hasher
//! on lookup; it is built once per connection.

use crate::core::decimal::load_word;
use crate::core::symbol::{SymbolId, SymbolTable, SYMBOL_NAME_MAX};

/// A name as three zero-padded little-endian words, so lookups compare words, not bytes.
type NameWords = [u64; 3];

const _: () = assert!(SYMBOL_NAME_MAX <= 24, "names must fit in three words");

#[derive(Clone, Copy)]
struct Slot {
    /// Zero marks an empty slot (names are never empty).
    len: u8,
    words: NameWords,
    id: SymbolId,
}

const EMPTY: Slot = Slot {
    len: 0,
    words: [0; 3],
    id: SymbolId(0),
};

/// Open-addressed table of symbol names in their upper- and lower-case forms.
pub(super) struct SymbolMap {
    slots: Vec<Slot>,
    mask: usize,
}

impl SymbolMap {
    /// Every symbol of `table`, under its name as interned and in upper and lower case.
    pub(super) fn new(table: &SymbolTable) -> Self {
        let capacity = (table.len() * 6).max(8).next_power_of_two();
        let mut map = Self {
            slots: vec![EMPTY; capacity],
            mask: capacity - 1,
        };
        for index in 0..table.len() {
            let Ok(raw) = u32::try_from(index) else { break };
            let id = SymbolId(raw);
            let Some(name) = table.name(id) else { continue };
            map.insert(name.as_bytes(), id);
            map.insert(name.to_ascii_uppercase().as_bytes(), id);
            map.insert(name.to_ascii_lowercase().as_bytes(), id);
        }
        map
    }

    fn insert(&mut self, name: &[u8], id: SymbolId) {
        let Some(words) = name_words(name) else {
            return;
        };
        if self.get(name).is_some() {
            return;
        }
        let mut i = hash(&words, name.len()) & self.mask;
        while self.slots[i].len != 0 {
            i = (i + 1) & self.mask;
        }
        self.slots[i] = Slot {
            // `name_words` accepted it, so 1 ≤ len ≤ SYMBOL_NAME_MAX (24).
            len: name.len() as u8,
            words,
            id,
        };
    }

    /// The id of `name` as spelled on the wire.
    #[inline]
    pub(super) fn get(&self, name: &[u8]) -> Option<SymbolId> {
        let words = name_words(name)?;
        let mut i = hash(&words, name.len()) & self.mask;
        loop {
            let slot = &self.slots[i];
            if usize::from(slot.len) == name.len() && slot.words == words {
                return Some(slot.id);
            }
            if slot.len == 0 {
                return None;
            }
            i = (i + 1) & self.mask;
        }
    }
}

/// `name` as zero-padded words, or `None` when it is empty or too long to be a symbol.
#[inline(always)]
fn name_words(name: &[u8]) -> Option<NameWords> {
    if name.is_empty() || name.len() > SYMBOL_NAME_MAX {
        return None;
    }
    // Most names fit in one word; the others are read only when present.
    let word = |at: usize| {
        if name.len() > at {
            load_word(name, at)
        } else {
            0
        }
    };
    Some([load_word(name, 0), word(8), word(16)])
}

/// Multiply-fold over the name's words; a few instructions for a short name.
#[inline(always)]
fn hash(words: &NameWords, len: usize) -> usize {
    let mut h = len as u64;
    for &word in words {
        h = (h ^ word).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
    (h ^ (h >> 29)) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_upper_and_lower_case_names_and_rejects_others() {
        let mut table = SymbolTable::new();
        let btc = table.intern("BTCUSDT").expect("valid name");
        let eth = table.intern("ETHUSDT").expect("valid name");
        let map = SymbolMap::new(&table);
        assert_eq!(map.get(b"BTCUSDT"), Some(btc));
        assert_eq!(map.get(b"btcusdt"), Some(btc));
        assert_eq!(map.get(b"ETHUSDT"), Some(eth));
        assert_eq!(map.get(b"BNBUSDT"), None);
        assert_eq!(map.get(b""), None);
        assert_eq!(map.get(&[b'A'; 40]), None);
        assert_eq!(map.get(b"BTCUSD"), None);
        assert_eq!(
            map.get(b"BTCUSDT\0"),
            None,
            "zero padding is not part of the name"
        );
    }

    #[test]
    fn long_names_use_every_word() {
        let mut table = SymbolTable::new();
        let long = "ABCDEFGHIJKLMNOPQRSTUVWX";
        let id = table.intern(long).expect("24 bytes is the limit");
        let near = table
            .intern("ABCDEFGHIJKLMNOPQRSTUVWY")
            .expect("valid name");
        let map = SymbolMap::new(&table);
        assert_eq!(map.get(long.as_bytes()), Some(id));
        assert_eq!(map.get(b"ABCDEFGHIJKLMNOPQRSTUVWY"), Some(near));
        assert_eq!(map.get(b"abcdefghijklmnopqrstuvwx"), Some(id));
        assert_eq!(map.get(b"ABCDEFGHIJKLMNOPQRSTUVW"), None);
    }
}
