//! Owns: parameter grids — the `[sweep]` table of a backtest config (dotted keys of the file
//! → lists of values) expanded into one complete settings table per combination, in a fixed
//! order. Never: runs anything (the command runs the combinations in parallel) or accepts a
//! key the settings do not have (each combination is checked like a config file).

use anyhow::Context;

use super::config::BacktestConfig;

/// One combination: the values it sets (`key = value`, in key order) and its settings.
#[derive(Debug, Clone)]
pub struct Combination {
    pub index: usize,
    pub assignments: Vec<(String, toml::Value)>,
    pub config: BacktestConfig,
}

impl Combination {
    /// `key=value key=value` for tables and file names.
    pub fn label(&self) -> String {
        self.assignments
            .iter()
            .map(|(key, value)| format!("{key}={}", plain(value)))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// A value as text without TOML quoting.
pub fn plain(value: &toml::Value) -> String {
    match value {
        toml::Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// Most combinations a sweep may expand to.
pub const MAX_COMBINATIONS: usize = 10_000;

/// Expands `table`'s `[sweep]` over the rest of it: keys in sorted order, the last key
/// varying fastest. A table without `[sweep]` (or with an empty one) is one combination.
pub fn expand(mut table: toml::Table) -> anyhow::Result<Vec<Combination>> {
    let grid = match table.remove("sweep") {
        Some(toml::Value::Table(grid)) => grid,
        Some(_) => anyhow::bail!("sweep: must be a table of `key = [values]`"),
        None => toml::Table::new(),
    };
    let mut axes: Vec<(String, Vec<toml::Value>)> = Vec::new();
    for (key, values) in grid {
        let toml::Value::Array(values) = values else {
            anyhow::bail!("sweep.{key:?}: must be a list of values");
        };
        anyhow::ensure!(!values.is_empty(), "sweep.{key:?}: the list is empty");
        axes.push((key, values));
    }
    axes.sort_by(|a, b| a.0.cmp(&b.0));
    let total = axes
        .iter()
        .try_fold(1usize, |n, (_, values)| n.checked_mul(values.len()))
        .filter(|&n| n <= MAX_COMBINATIONS)
        .with_context(|| format!("sweep: more than {MAX_COMBINATIONS} combinations"))?;
    let mut combinations = Vec::with_capacity(total);
    for index in 0..total {
        let mut rest = index;
        let mut assignments = Vec::with_capacity(axes.len());
        for (key, values) in axes.iter().rev() {
            assignments.push((key.clone(), values[rest % values.len()].clone()));
            rest /= values.len();
        }
        assignments.reverse();
        let mut settings = table.clone();
        for (key, value) in &assignments {
            set_dotted(&mut settings, key, value.clone())
                .with_context(|| format!("sweep.{key:?}"))?;
        }
        let config = BacktestConfig::from_table(settings)
            .with_context(|| format!("sweep combination {}", index + 1))?;
        combinations.push(Combination {
            index,
            assignments,
            config,
        });
    }
    Ok(combinations)
}

/// Sets `a.b.c` in `table`, creating the tables on the way.
fn set_dotted(table: &mut toml::Table, key: &str, value: toml::Value) -> anyhow::Result<()> {
    let mut parts = key.split('.').peekable();
    let mut current = table;
    while let Some(part) = parts.next() {
        anyhow::ensure!(!part.is_empty(), "empty part in the key");
        if parts.peek().is_none() {
            current.insert(part.to_owned(), value);
            return Ok(());
        }
        let next = current
            .entry(part.to_owned())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        current = next
            .as_table_mut()
            .with_context(|| format!("{part} is not a table"))?;
    }
    anyhow::bail!("empty key")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> toml::Table {
        toml::from_str(text).expect("toml")
    }

    #[test]
    fn expands_in_key_order_with_the_last_key_fastest() {
        let combos = expand(table(
            r#"
            [probe]
            qty = "0.01"
            [sweep]
            "probe.bracket_bps" = [5, 10, 20]
            "backtest.order_entry_latency_us" = [0, 500]
            "#,
        ))
        .expect("expands");
        assert_eq!(combos.len(), 6);
        let labels: Vec<_> = combos.iter().map(Combination::label).collect();
        assert_eq!(
            labels,
            [
                "backtest.order_entry_latency_us=0 probe.bracket_bps=5",
                "backtest.order_entry_latency_us=0 probe.bracket_bps=10",
                "backtest.order_entry_latency_us=0 probe.bracket_bps=20",
                "backtest.order_entry_latency_us=500 probe.bracket_bps=5",
                "backtest.order_entry_latency_us=500 probe.bracket_bps=10",
                "backtest.order_entry_latency_us=500 probe.bracket_bps=20",
            ]
        );
        assert_eq!(combos[4].config.probe.bracket_bps, 10);
        assert_eq!(combos[4].config.backtest.order_entry_latency_us, 500);
        // Keys the grid does not touch keep the file's value.
        assert_eq!(combos[4].config.probe.qty.to_string(), "0.01");
    }

    #[test]
    fn refuses_unknown_keys_bad_values_and_empty_lists() {
        let unknown = expand(table("[sweep]\n\"probe.nope\" = [1]\n")).unwrap_err();
        assert!(format!("{unknown:#}").contains("nope"), "{unknown:#}");
        let bad = expand(table("[sweep]\n\"backtest.sample_every_ms\" = [0]\n")).unwrap_err();
        assert!(format!("{bad:#}").contains("sample_every_ms"), "{bad:#}");
        assert!(expand(table("[sweep]\n\"probe.bracket_bps\" = []\n")).is_err());
        assert!(expand(table("[sweep]\n\"probe.bracket_bps\" = 5\n")).is_err());
    }

    #[test]
    fn no_grid_is_one_combination() {
        let combos = expand(toml::Table::new()).expect("expands");
        assert_eq!(combos.len(), 1);
        assert_eq!(combos[0].label(), "");
        assert_eq!(combos[0].config, BacktestConfig::default());
    }
}
