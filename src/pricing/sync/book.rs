//! The price book as the sync reads, compares and writes it: every column as written, prices as exact decimals,
//! rows keyed by (model, region, routing, tier, long_context_above, effective_from). Pure: text in, text out.
//!
//! This is the sheet's text form; `pricing::parse_price_book` stays the one validator of what the queries load,
//! and the sync runs it over every book before writing.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use rust_decimal::Decimal;

use super::Error;
use super::offer::parse_price;
pub use crate::pricing::PRICE_COLUMNS;
use crate::pricing::RawPriceRow;

/// The columns written before the prices, and after them (`tier` and `long_context_above` are the two the sync
/// added; blank = standard). Rows are written in the same order: these, [`PRICE_COLUMNS`], the rest.
const KEY_COLUMNS: [&str; 5] = ["model", "region", "routing", "effective_from", "effective_to"];
const TRAILING_COLUMNS: [&str; 5] = ["source", "as_of", "confidence", "tier", "long_context_above"];

/// One book row. Prices are USD per million tokens; `None` = blank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookRow {
    pub model: String,
    pub region: String,
    pub routing: String,
    pub effective_from: String,
    pub effective_to: String,
    pub prices: [Option<Decimal>; 7],
    pub source: String,
    pub as_of: String,
    pub confidence: String,
    /// Blank (standard), `flex` or `priority`.
    pub tier: String,
    /// Blank, or the input-token count above which this row's rates apply to the whole request.
    pub long_context_above: String,
}

/// What identifies a row: two rows with the same key are the same price.
pub type RowKey = (String, String, String, String, String, String);

impl BookRow {
    /// (model, region, routing, tier, long_context_above, effective_from).
    pub fn key(&self) -> RowKey {
        (
            self.model.clone(),
            self.region.clone(),
            self.routing.clone(),
            self.tier.clone(),
            self.long_context_above.clone(),
            self.effective_from.clone(),
        )
    }

    /// The key as people read it: `model region routing [tier] [long context > N] [from DATE]`.
    pub fn label(&self) -> String {
        let mut label = format!("{} {} {}", self.model, self.region, self.routing);
        if !self.tier.is_empty() {
            let _ = write!(label, " tier {}", self.tier);
        }
        if !self.long_context_above.is_empty() {
            let _ = write!(label, " long context > {}", self.long_context_above);
        }
        if !self.effective_from.is_empty() {
            let _ = write!(label, " from {}", self.effective_from);
        }
        label
    }

    /// Same prices and the same period end (numerically: `3.00` equals `3`).
    pub fn same_prices(&self, other: &BookRow) -> bool {
        self.prices == other.prices && self.effective_to == other.effective_to
    }

    /// `input 3 -> 3.3, output 15 -> 16.5` for what differs, or the prices of one row (`old` = None).
    pub fn describe_prices(&self, old: Option<&BookRow>) -> String {
        let show = |p: &Option<Decimal>| p.map_or("-".to_string(), |d| d.normalize().to_string());
        let mut parts = Vec::new();
        for (i, column) in PRICE_COLUMNS.iter().enumerate() {
            let name = column.trim_end_matches("_per_mtok");
            match old {
                Some(o) if o.prices[i] != self.prices[i] => {
                    parts.push(format!("{name} {} -> {}", show(&o.prices[i]), show(&self.prices[i])))
                }
                None if self.prices[i].is_some() => parts.push(format!("{name} {}", show(&self.prices[i]))),
                _ => {}
            }
        }
        if let Some(o) = old
            && o.effective_to != self.effective_to
        {
            parts.push(format!("effective_to {:?} -> {:?}", o.effective_to, self.effective_to));
        }
        parts.join(", ")
    }
}

/// Read a book (or the hand-kept sheet) through the loader's row reader: `#` lines are comments; `confidence`,
/// `tier` and `long_context_above` may be absent (a book written before the sync). Each row comes with its line.
pub fn read_book(text: &str, origin: &str) -> Result<Vec<(u64, BookRow)>, Error> {
    let invalid = |line, reason: String| Error::Book { origin: origin.to_string(), line, reason };
    let mut rows = Vec::new();
    for (line, raw) in crate::pricing::read_sheet::<RawPriceRow>(text, origin).map_err(Error::Sheet)? {
        let mut prices = [None; 7];
        for (i, text) in raw.prices().iter().enumerate() {
            if !text.is_empty() {
                prices[i] = Some(
                    parse_price(text)
                        .ok_or_else(|| invalid(line, format!("{} {text:?} is not a price", PRICE_COLUMNS[i])))?,
                );
            }
        }
        rows.push((
            line,
            BookRow {
                model: raw.model,
                region: raw.region,
                routing: raw.routing.to_ascii_lowercase(),
                effective_from: raw.effective_from,
                effective_to: raw.effective_to,
                prices,
                source: raw.source,
                as_of: raw.as_of,
                confidence: raw.confidence,
                tier: raw.tier.to_ascii_lowercase(),
                long_context_above: raw.long_context_above,
            },
        ));
    }
    Ok(rows)
}

/// Order rows as the book lists them: by model, then region (`*` first), routing, tier, long context, start.
pub fn sort_rows(rows: &mut [BookRow]) {
    rows.sort_by(|a, b| {
        let long = |r: &BookRow| r.long_context_above.parse::<u64>().ok();
        (&a.model, a.region != "*", &a.region, &a.routing, &a.tier, long(a), &a.effective_from).cmp(&(
            &b.model,
            b.region != "*",
            &b.region,
            &b.routing,
            &b.tier,
            long(b),
            &b.effective_from,
        ))
    });
}

/// The book's text: a comment saying where it came from, the header, the rows.
pub fn write_book(rows: &[BookRow], comment: &str) -> Result<String, Error> {
    let mut out = String::new();
    for line in comment.lines() {
        let _ = writeln!(out, "# {line}");
    }
    let mut writer = csv::WriterBuilder::new().from_writer(Vec::new());
    let csv_error =
        |e: csv::Error| Error::Book { origin: "the synced book".to_string(), line: 0, reason: e.to_string() };
    let header = KEY_COLUMNS.iter().chain(&PRICE_COLUMNS).chain(&TRAILING_COLUMNS);
    writer.write_record(header).map_err(csv_error)?;
    for r in rows {
        let prices = r.prices.map(|p| p.map_or(String::new(), |d| d.normalize().to_string()));
        let mut record: Vec<&str> = vec![&r.model, &r.region, &r.routing, &r.effective_from, &r.effective_to];
        record.extend(prices.iter().map(String::as_str));
        record.extend([r.source.as_str(), &r.as_of, &r.confidence, &r.tier, &r.long_context_above]);
        writer.write_record(&record).map_err(csv_error)?;
    }
    let bytes = writer.into_inner().map_err(|e| csv_error(e.into_error().into()))?;
    out.push_str(&String::from_utf8_lossy(&bytes));
    Ok(out)
}

/// How a new book differs from the current one.
#[derive(Debug, Default)]
pub struct Diff {
    pub added: Vec<BookRow>,
    /// (old, new).
    pub changed: Vec<(BookRow, BookRow)>,
    pub removed: Vec<BookRow>,
    /// Rows whose prices are the same but whose source, date or confidence changed.
    pub restated: usize,
}

impl Diff {
    /// Compare by key.
    pub fn between(old: &[BookRow], new: &[BookRow]) -> Diff {
        let old_by_key: BTreeMap<RowKey, &BookRow> = old.iter().map(|r| (r.key(), r)).collect();
        let new_by_key: BTreeMap<RowKey, &BookRow> = new.iter().map(|r| (r.key(), r)).collect();
        let mut diff = Diff::default();
        for (key, n) in &new_by_key {
            match old_by_key.get(key) {
                None => diff.added.push((*n).clone()),
                Some(o) if !o.same_prices(n) => diff.changed.push(((*o).clone(), (*n).clone())),
                Some(o) if *o != *n => diff.restated += 1,
                Some(_) => {}
            }
        }
        diff.removed =
            old_by_key.iter().filter(|(k, _)| !new_by_key.contains_key(*k)).map(|(_, r)| (*r).clone()).collect();
        diff
    }

    /// Whether any price was added, changed or removed.
    pub fn prices_changed(&self) -> bool {
        !(self.added.is_empty() && self.changed.is_empty() && self.removed.is_empty())
    }

    /// The diff as lines: `added`, `changed` (old -> new) and `removed`, one row each.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for r in &self.added {
            let _ = writeln!(out, "added    {}: {}", r.label(), r.describe_prices(None));
        }
        for (o, n) in &self.changed {
            let _ = writeln!(out, "changed  {}: {}", n.label(), n.describe_prices(Some(o)));
        }
        for r in &self.removed {
            let _ = writeln!(out, "removed  {}: {}", r.label(), r.describe_prices(None));
        }
        let _ = writeln!(
            out,
            "{} added, {} changed, {} removed{}",
            self.added.len(),
            self.changed.len(),
            self.removed.len(),
            if self.restated > 0 {
                format!(", {} with only source or date restated", self.restated)
            } else {
                String::new()
            }
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &str = "model,region,routing,effective_from,effective_to,input_per_mtok,output_per_mtok,cache_read_per_mtok,cache_write_per_mtok,cache_write_1h_per_mtok,batch_input_per_mtok,batch_output_per_mtok,source,as_of,confidence\n\
        m1,*,global,,,3.00,15.00,,,,,,s,2025-01-01,B\n\
        m2,us-east-1,*,,,1,2,,,,,,s,2025-01-01,B\n\
        m3,us-east-1,*,,,1,2,,,,,,s,2025-01-01,B\n";

    #[test]
    fn round_trips_and_diffs_numerically() {
        let old: Vec<BookRow> = read_book(OLD, "old").unwrap().into_iter().map(|(_, r)| r).collect();
        assert_eq!(old[0].tier, "", "absent columns read as blank");
        let mut new = old.clone();
        new[0].prices[0] = Some(Decimal::new(30, 1)); // 3.0: same price as 3.00
        new[0].source = "restated".into();
        new[1].prices[1] = Some(Decimal::new(25, 1));
        new.remove(2);
        let mut flex = new[1].clone();
        flex.tier = "flex".into();
        new.push(flex);
        let diff = Diff::between(&old, &new);
        assert_eq!((diff.added.len(), diff.changed.len(), diff.removed.len(), diff.restated), (1, 1, 1, 1));
        let text = diff.render();
        assert!(text.contains("changed  m2 us-east-1 *: output 2 -> 2.5"), "{text}");
        assert!(text.contains("added    m2 us-east-1 * tier flex"), "{text}");
        assert!(text.contains("removed  m3 us-east-1 *"), "{text}");
        let written = write_book(&new, "generated").unwrap();
        let back: Vec<BookRow> = read_book(&written, "new").unwrap().into_iter().map(|(_, r)| r).collect();
        assert_eq!(back, new);
        assert!(!Diff::between(&new, &back).prices_changed());
        assert!(written.starts_with("# generated\nmodel,region,"));
    }
}
