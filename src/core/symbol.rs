//! Owns: interning of venue symbol names to small integer ids. Never: grows on the hot path
//! (all symbols are interned at start-up or on the control path before data flows).

use std::collections::HashMap;
use std::fmt;

/// Longest symbol name kept inline (Binance's longest names are under 20 bytes).
pub const SYMBOL_NAME_MAX: usize = 24;

/// Small integer id of an interned symbol; index into per-symbol arrays.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SymbolId(pub u32);

impl SymbolId {
    /// Index for per-symbol arrays.
    #[inline]
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Debug for SymbolId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sym#{}", self.0)
    }
}

/// A symbol name stored inline, so messages that carry it stay `Copy` and allocation-free.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SymbolName {
    len: u8,
    bytes: [u8; SYMBOL_NAME_MAX],
}

impl SymbolName {
    /// Copies `name` inline; `None` when it is empty, too long or not ASCII.
    pub fn new(name: &str) -> Option<Self> {
        let b = name.as_bytes();
        if b.is_empty() || b.len() > SYMBOL_NAME_MAX || !name.is_ascii() {
            return None;
        }
        let mut bytes = [0u8; SYMBOL_NAME_MAX];
        bytes[..b.len()].copy_from_slice(b);
        Some(Self {
            len: b.len() as u8,
            bytes,
        })
    }
    /// The name as text.
    pub fn as_str(&self) -> &str {
        // Constructed from ASCII only.
        std::str::from_utf8(&self.bytes[..self.len as usize]).unwrap_or("")
    }
}

impl fmt::Debug for SymbolName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for SymbolName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// An asset code (`BTC`, `USDT`, `BNB`) stored inline, for balances and fee currencies.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct AssetName(SymbolName);

impl AssetName {
    /// Copies `code` inline; `None` when it is empty, too long or not ASCII.
    pub fn new(code: &str) -> Option<Self> {
        SymbolName::new(code).map(Self)
    }
    /// The code as text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl fmt::Debug for AssetName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for AssetName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// Why a symbol could not be interned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SymbolError {
    #[error("symbol name {0:?} is empty, longer than {SYMBOL_NAME_MAX} bytes or not ASCII")]
    BadName(String),
    #[error("symbol table is full ({0} symbols)")]
    Full(usize),
}

/// Bidirectional map between names and ids; ids are dense and start at 0.
#[derive(Debug, Default, Clone)]
pub struct SymbolTable {
    by_name: HashMap<SymbolName, SymbolId>,
    names: Vec<SymbolName>,
}

impl SymbolTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Returns the id of `name`, interning it first if it is new.
    pub fn intern(&mut self, name: &str) -> Result<SymbolId, SymbolError> {
        let key = SymbolName::new(name).ok_or_else(|| SymbolError::BadName(name.to_owned()))?;
        if let Some(&id) = self.by_name.get(&key) {
            return Ok(id);
        }
        let id = u32::try_from(self.names.len())
            .map(SymbolId)
            .map_err(|_| SymbolError::Full(self.names.len()))?;
        self.names.push(key);
        self.by_name.insert(key, id);
        Ok(id)
    }

    /// Id of an already interned name (no allocation; usable from decoders).
    #[inline]
    pub fn get(&self, name: &[u8]) -> Option<SymbolId> {
        let key = std::str::from_utf8(name).ok().and_then(SymbolName::new)?;
        self.by_name.get(&key).copied()
    }

    /// Name of an id, if it was interned here.
    pub fn name(&self, id: SymbolId) -> Option<&str> {
        self.names.get(id.index()).map(SymbolName::as_str)
    }

    /// Inline name of an id, if it was interned here.
    pub fn inline_name(&self, id: SymbolId) -> Option<SymbolName> {
        self.names.get(id.index()).copied()
    }

    /// Every name, indexed by `SymbolId::index` (for labels and lookups by id).
    pub fn names_by_index(&self) -> Vec<String> {
        self.names.iter().map(|n| n.as_str().to_owned()).collect()
    }

    /// Number of interned symbols.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// True when nothing is interned.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interning_is_idempotent_and_dense() {
        let mut t = SymbolTable::new();
        let a = t.intern("BTCUSDT").expect("valid name");
        let b = t.intern("ETHUSDT").expect("valid name");
        assert_eq!(t.intern("BTCUSDT").expect("valid name"), a);
        assert_eq!((a.0, b.0), (0, 1));
        assert_eq!(t.get(b"ETHUSDT"), Some(b));
        assert_eq!(t.name(a), Some("BTCUSDT"));
        assert!(t.intern("").is_err());
        assert!(t.intern(&"X".repeat(SYMBOL_NAME_MAX + 1)).is_err());
    }
}
