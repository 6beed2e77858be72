//! Owns: the mapping from a strategy's symbols to its per-symbol state slots (the symbols
//! de-duplicated in the order given; slot i is the i-th). Never: allocates after
//! construction or maps a symbol the strategy was not given.

use crate::core::SymbolId;

/// A strategy's symbols and the slot of each.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SymbolSlots {
    symbols: Vec<SymbolId>,
    /// Slot by `SymbolId::index` (None: not one of ours).
    slot_of: Vec<Option<usize>>,
}

impl SymbolSlots {
    /// Slots for `symbols`, repeats dropped, in the order given.
    pub fn new(symbols: &[SymbolId]) -> Self {
        let mut unique: Vec<SymbolId> = Vec::with_capacity(symbols.len());
        for &symbol in symbols {
            if !unique.contains(&symbol) {
                unique.push(symbol);
            }
        }
        let size = unique.iter().map(|s| s.index() + 1).max().unwrap_or(0);
        let mut slot_of = vec![None; size];
        for (position, symbol) in unique.iter().enumerate() {
            slot_of[symbol.index()] = Some(position);
        }
        Self {
            symbols: unique,
            slot_of,
        }
    }

    /// The slot of `symbol`, when it is one of ours.
    #[inline]
    pub fn slot(&self, symbol: SymbolId) -> Option<usize> {
        self.slot_of.get(symbol.index()).copied().flatten()
    }

    /// The symbols, by slot.
    pub fn symbols(&self) -> &[SymbolId] {
        &self.symbols
    }

    /// Number of slots.
    pub fn len(&self) -> usize {
        self.symbols.len()
    }

    /// True without symbols.
    pub fn is_empty(&self) -> bool {
        self.symbols.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_are_dropped_and_foreign_symbols_have_no_slot() {
        let slots = SymbolSlots::new(&[SymbolId(4), SymbolId(1), SymbolId(4)]);
        assert_eq!(slots.symbols(), &[SymbolId(4), SymbolId(1)]);
        assert_eq!(slots.slot(SymbolId(4)), Some(0));
        assert_eq!(slots.slot(SymbolId(1)), Some(1));
        assert_eq!(slots.slot(SymbolId(0)), None);
        assert_eq!(slots.slot(SymbolId(99)), None);
        assert_eq!(slots.len(), 2);
        assert!(SymbolSlots::new(&[]).is_empty());
    }
}
