//! Owns: writing the simulator's order-side JSON with keys in the venue's order and decimals
//! printed the way the venue prints them. Never: parses JSON or decides what a reply holds.

use crate::core::decimal::{write_raw_with_decimals, MAX_TEXT_LEN};

/// `raw` (1e-18 units) with exactly `decimals` fractional digits, truncated toward zero.
pub(crate) fn fixed(raw: i128, decimals: u32) -> String {
    let mut buf = [0u8; MAX_TEXT_LEN];
    let n = write_raw_with_decimals(raw, Some(decimals), &mut buf);
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// `raw` with at least `min` and at most `max` fractional digits (trailing zeros past `min`
/// dropped): how Binance prints averages and PnL whose digits are not on a tick.
pub(crate) fn trimmed(raw: i128, min: u32, max: u32) -> String {
    let mut text = fixed(raw, max);
    let Some(dot) = text.find('.') else {
        return text;
    };
    let keep = dot + 1 + min as usize;
    while text.len() > keep && text.ends_with('0') {
        text.pop();
    }
    if text.ends_with('.') {
        text.pop();
    }
    text
}

/// Appends `value` as a JSON string literal.
fn push_str_literal(out: &mut String, value: &str) {
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A JSON object being written; keys come out in call order.
pub(crate) struct Obj<'a> {
    out: &'a mut String,
    first: bool,
}

impl<'a> Obj<'a> {
    /// Opens an object at the end of `out`.
    pub fn open(out: &'a mut String) -> Self {
        out.push('{');
        Self { out, first: true }
    }

    fn key(&mut self, key: &str) {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        push_str_literal(self.out, key);
        self.out.push(':');
    }

    /// A string value.
    pub fn str(&mut self, key: &str, value: &str) -> &mut Self {
        self.key(key);
        push_str_literal(self.out, value);
        self
    }

    /// A signed integer value.
    pub fn int(&mut self, key: &str, value: i64) -> &mut Self {
        self.key(key);
        self.out.push_str(&value.to_string());
        self
    }

    /// An unsigned integer value.
    pub fn uint(&mut self, key: &str, value: u64) -> &mut Self {
        self.key(key);
        self.out.push_str(&value.to_string());
        self
    }

    /// A boolean value.
    pub fn bool(&mut self, key: &str, value: bool) -> &mut Self {
        self.key(key);
        self.out.push_str(if value { "true" } else { "false" });
        self
    }

    /// A `null` value.
    pub fn null(&mut self, key: &str) -> &mut Self {
        self.key(key);
        self.out.push_str("null");
        self
    }

    /// A decimal printed as a string with exactly `decimals` digits.
    pub fn dec(&mut self, key: &str, raw: i128, decimals: u32) -> &mut Self {
        self.str(key, &fixed(raw, decimals))
    }

    /// Already-encoded JSON (a nested document built elsewhere).
    pub fn raw(&mut self, key: &str, json: &str) -> &mut Self {
        self.key(key);
        self.out.push_str(json);
        self
    }

    /// A nested object.
    pub fn obj(&mut self, key: &str, fill: impl FnOnce(&mut Obj<'_>)) -> &mut Self {
        self.key(key);
        let mut inner = Obj::open(self.out);
        fill(&mut inner);
        inner.close();
        self
    }

    /// A nested array.
    pub fn arr(&mut self, key: &str, fill: impl FnOnce(&mut Arr<'_>)) -> &mut Self {
        self.key(key);
        let mut inner = Arr::open(self.out);
        fill(&mut inner);
        inner.close();
        self
    }

    /// Closes the object.
    pub fn close(self) {
        self.out.push('}');
    }
}

/// A JSON array being written.
pub(crate) struct Arr<'a> {
    out: &'a mut String,
    first: bool,
}

impl<'a> Arr<'a> {
    /// Opens an array at the end of `out`.
    pub fn open(out: &'a mut String) -> Self {
        out.push('[');
        Self { out, first: true }
    }

    fn comma(&mut self) {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
    }

    /// An object element.
    pub fn obj(&mut self, fill: impl FnOnce(&mut Obj<'_>)) -> &mut Self {
        self.comma();
        let mut inner = Obj::open(self.out);
        fill(&mut inner);
        inner.close();
        self
    }

    /// A string element.
    pub fn str(&mut self, value: &str) -> &mut Self {
        self.comma();
        push_str_literal(self.out, value);
        self
    }

    /// An already-encoded JSON element.
    pub fn raw(&mut self, json: &str) -> &mut Self {
        self.comma();
        self.out.push_str(json);
        self
    }

    /// Closes the array.
    pub fn close(self) {
        self.out.push(']');
    }
}

/// Writes one object and returns its text.
pub(crate) fn object(fill: impl FnOnce(&mut Obj<'_>)) -> String {
    let mut out = String::with_capacity(256);
    let mut obj = Obj::open(&mut out);
    fill(&mut obj);
    obj.close();
    out
}

/// Writes one array and returns its text.
pub(crate) fn array(fill: impl FnOnce(&mut Arr<'_>)) -> String {
    let mut out = String::with_capacity(256);
    let mut arr = Arr::open(&mut out);
    fill(&mut arr);
    arr.close();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::decimal::SCALE;

    #[test]
    fn keys_keep_their_order_and_strings_are_escaped() {
        let text = object(|o| {
            o.str("z", "a\"b").int("a", -1).bool("m", true).null("N");
            o.arr("B", |a| {
                a.obj(|e| {
                    e.dec("f", SCALE / 2, 8);
                });
                a.str("x");
            });
        });
        assert_eq!(
            text,
            r#"{"z":"a\"b","a":-1,"m":true,"N":null,"B":[{"f":"0.50000000"},"x"]}"#
        );
        let parsed: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(parsed["B"][0]["f"], "0.50000000");
    }

    #[test]
    fn trimmed_keeps_the_minimum_digits_and_drops_the_rest_of_the_zeros() {
        assert_eq!(trimmed(7100 * SCALE + SCALE / 2, 2, 8), "7100.50");
        assert_eq!(trimmed(0, 2, 8), "0.00");
        assert_eq!(trimmed(SCALE / 1000 * 5, 0, 8), "0.005");
        assert_eq!(trimmed(3 * SCALE, 0, 8), "3");
        assert_eq!(fixed(-SCALE / 4, 2), "-0.25");
    }
}
