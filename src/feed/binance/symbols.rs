//! Owns: the decoder's name → `SymbolId` map, matching both the upper-case `s` fields and
//! the lower-case stream-name prefixes. Never: allocates or hashes with a keyed hasher
//! on lookup; it is built once per connection.

use crate::core::symbol::{SymbolId, SymbolTable, SYMBOL_NAME_MAX};

#[derive(Clone, Copy)]
struct Slot {
    len: u8,
    name: [u8; SYMBOL_NAME_MAX],
    id: SymbolId,
}

/// Open-addressed table of symbol names in their upper- and lower-case forms.
pub(super) struct SymbolMap {
    slots: Vec<Option<Slot>>,
    mask: usize,
}

impl SymbolMap {
    /// Every symbol of `table`, under its name as interned and in upper and lower case.
    pub(super) fn new(table: &SymbolTable) -> Self {
        let capacity = (table.len() * 6).max(8).next_power_of_two();
        let mut map = Self {
            slots: vec![None; capacity],
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
        if name.len() > SYMBOL_NAME_MAX || self.get(name).is_some() {
            return;
        }
        let mut bytes = [0u8; SYMBOL_NAME_MAX];
        bytes[..name.len()].copy_from_slice(name);
        let mut i = hash(name) & self.mask;
        while self.slots[i].is_some() {
            i = (i + 1) & self.mask;
        }
        self.slots[i] = Some(Slot {
            // `name.len() <= SYMBOL_NAME_MAX` (24) was checked above.
            len: name.len() as u8,
            name: bytes,
            id,
        });
    }

    /// The id of `name` as spelled on the wire.
    #[inline]
    pub(super) fn get(&self, name: &[u8]) -> Option<SymbolId> {
        if name.is_empty() || name.len() > SYMBOL_NAME_MAX {
            return None;
        }
        let mut i = hash(name) & self.mask;
        loop {
            let slot = self.slots[i].as_ref()?;
            if usize::from(slot.len) == name.len() && &slot.name[..name.len()] == name {
                return Some(slot.id);
            }
            i = (i + 1) & self.mask;
        }
    }
}

/// Multiply-fold over 8-byte words; symbol names are short, so this is a few instructions.
#[inline]
fn hash(name: &[u8]) -> usize {
    let mut h: u64 = name.len() as u64;
    for chunk in name.chunks(8) {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        h = (h ^ u64::from_le_bytes(word)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
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
    }
}
