//! `ddl`: the warehouse and the cost rules as SQL for engines we do not run ourselves, Athena (Glue catalog,
//! Trino SQL) and Spark. It owns the table definitions over the warehouse and the price book files, and the
//! engine forms of the cost views; it must not hold cost rules of its own.
//!
//! One source of truth: the table columns come from [`crate::store::schema`] and the price book's header, the
//! model-id rule and the cost arithmetic are written from the crate's own (see [`sql`]), and the view bodies in
//! `queries/engines/` restate `queries/views/` in SQL both engines accept. Those two must agree; the integration
//! tests run the Spark form on Spark and compare its costs with DataFusion's, and parse the Athena form as Trino
//! and compare its columns, so a rule changed in one place and not the other fails the suite.
//!
//! Pure: options in, SQL text out. Uploading the price book is [`upload`]'s business (the edge).

pub mod sql;
pub mod upload;

use chrono::NaiveDate;

use crate::pricing::Discount;
use crate::store::schema::{FILE_SCHEMA, PARTITION_COLUMN};

/// The engines `ddl` writes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Engine {
    /// Amazon Athena (Glue Data Catalog; DDL in Hive's form, queries in Trino's SQL).
    Athena,
    /// Apache Spark SQL (EMR, Glue jobs, Databricks, or local).
    Spark,
}

/// The price book files as laid out beside the warehouse: each in a folder of its own, since an external
/// table's location is a folder. `(folder, file name, table)`.
pub const PRICE_FILES: [(&str, &str, &str); 2] = [
    ("bedrock-prices", "bedrock-prices.csv", "price_book"),
    ("provisioned-throughput", "provisioned-throughput.csv", "provisioned_price_book"),
];

/// Where Athena's projection starts when `--since` is not given: the month Amazon Bedrock became generally
/// available (September 2023). Days before it hold no logs; days with no folder cost Athena nothing to project.
pub const DEFAULT_SINCE: NaiveDate = match NaiveDate::from_ymd_opt(2023, 9, 1) {
    Some(d) => d,
    None => panic!("a valid date"),
};

const USAGE_COSTS: &str = include_str!("../../queries/engines/usage_costs.sql");
const INVOCATION_COSTS: &str = include_str!("../../queries/engines/invocation_costs.sql");

/// Errors writing the DDL or uploading the price book; each names what was refused.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("database name {name:?} must be letters, digits and underscores")]
    Database { name: String },
    #[error("{engine} reads tables from S3: the location {location:?} must be an s3:// URI")]
    NotS3 { engine: &'static str, location: String },
    #[error("location {location:?} contains a quote")]
    Quote { location: String },
    #[error("column {column} has type {data_type}, which the engine DDL does not map")]
    UnsupportedType { column: String, data_type: String },
    #[error("{origin}: no header line")]
    NoHeader { origin: String },
    #[error("cannot write {path}")]
    Write { path: String, source: std::io::Error },
    #[error("cannot upload s3://{bucket}/{key}: {message}")]
    Put { bucket: String, key: String, message: String },
}

/// What to write the DDL for.
#[derive(Debug, Clone)]
pub struct Options {
    pub engine: Engine,
    /// Database (Glue database / Spark schema) for every table and view; `None` = the current one.
    pub database: Option<String>,
    /// The warehouse root as a URI (`s3://bucket/prefix`, `file:/abs/path`), without a trailing slash.
    pub location: String,
    /// The folder holding the price book folders ([`PRICE_FILES`]), without a trailing slash.
    pub prices_location: String,
    /// First day of Athena's partition projection.
    pub since: NaiveDate,
    /// The discount the views apply (as `price_settings` does in DataFusion).
    pub discount: Discount,
    /// Header of the per-token price sheet (`pricing/bedrock-prices.csv` or the user's), in order.
    pub price_columns: Vec<String>,
    /// Header of the Provisioned Throughput sheet, in order.
    pub provisioned_columns: Vec<String>,
    /// The book's long-context thresholds ([`crate::pricing::PriceBook::long_context_thresholds`]), which the
    /// views' `long_context_floor` expression is written from.
    pub long_context_thresholds: Vec<i64>,
    /// Lines of each sheet ([`PRICE_FILES`] order) up to and including its header ([`csv_header_lines`]): Athena's
    /// CSV reader has no comment option, so it skips them by count.
    pub header_lines: [usize; 2],
}

/// One statement with a line saying what it is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub comment: String,
    pub sql: String,
}

/// The columns of a CSV sheet: its first line that is not a `#` comment.
pub fn csv_header(text: &str, origin: &str) -> Result<Vec<String>, Error> {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .ok_or_else(|| Error::NoHeader { origin: origin.into() })?;
    Ok(line.split(',').map(|c| c.trim().to_string()).collect())
}

/// How many lines of a CSV sheet come before its data: the `#` comment and blank lines above the header, and the
/// header. 1 for a sheet without a comment block; 1 also for a sheet with no header (then [`csv_header`] fails).
pub fn csv_header_lines(text: &str) -> usize {
    text.lines().position(|l| !l.trim().is_empty() && !l.trim().starts_with('#')).map_or(1, |i| i + 1)
}

/// The statements, in the order they must run.
pub fn statements(o: &Options) -> Result<Vec<Statement>, Error> {
    if let Some(db) = &o.database
        && (db.is_empty() || !db.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
    {
        return Err(Error::Database { name: db.clone() });
    }
    for location in [&o.location, &o.prices_location] {
        if location.contains('\'') {
            return Err(Error::Quote { location: location.clone() });
        }
        if o.engine == Engine::Athena && !location.starts_with("s3://") {
            return Err(Error::NotS3 { engine: "Athena", location: location.clone() });
        }
    }
    let db = o.database.as_ref().map(|d| format!("{d}.")).unwrap_or_default();
    let mut out = Vec::new();
    if let Some(d) = &o.database {
        out.push(Statement {
            comment: "The database of every table and view below.".into(),
            sql: format!("CREATE DATABASE IF NOT EXISTS {d}"),
        });
    }
    out.extend(invocations_table(o, &db)?);
    use crate::store::estate::{PROFILES_SCHEMA, PROVISIONED_SCHEMA};
    for (table, schema) in
        [("provisioned_throughputs", &*PROVISIONED_SCHEMA), ("inference_profiles", &*PROFILES_SCHEMA)]
    {
        let columns = schema.fields().iter().map(|f| (f.name().clone(), f.data_type().clone())).collect::<Vec<_>>();
        let location = format!("{}/estate/{table}/", o.location);
        out.push(Statement {
            comment: format!("The estate snapshot `{table}` (written by `ingest auto`; empty until then)."),
            sql: parquet_table(o.engine, &db, table, &columns, None, &location)?,
        });
    }
    for (((folder, _, table), columns), skip) in
        PRICE_FILES.iter().zip([&o.price_columns, &o.provisioned_columns]).zip(o.header_lines)
    {
        out.push(Statement {
            comment: format!("The price sheet {folder}.csv as uploaded (`ddl --upload-prices`): every column as text."),
            sql: csv_table(o.engine, &db, table, columns, &format!("{}/{folder}/", o.prices_location), skip),
        });
    }
    out.push(Statement {
        comment: "The per-token prices, typed as DataFusion's `prices` table (exact decimals, open periods filled)."
            .into(),
        sql: prices_view(&db, &o.price_columns),
    });
    out.push(Statement {
        comment: "The Provisioned Throughput prices, typed.".into(),
        sql: provisioned_view(&db, &o.provisioned_columns),
    });
    out.push(Statement {
        comment: format!("The discount off list prices ({}%).", o.discount.as_text()),
        sql: settings_view(&db, &o.discount),
    });
    for (name, template) in [("usage_costs", USAGE_COSTS), ("invocation_costs", INVOCATION_COSTS)] {
        out.push(Statement {
            comment: format!("The cost view `{name}`: the rules of queries/views/{name}.sql."),
            sql: fill(template, o.engine, &db, &o.long_context_thresholds),
        });
    }
    Ok(out)
}

/// The whole script: each statement after its comment, ending in `;` on a line of its own text.
pub fn script(o: &Options) -> Result<String, Error> {
    let engine = match o.engine {
        Engine::Athena => "Athena (run one statement at a time: the console and the API take one per query)",
        Engine::Spark => "Spark SQL (spark-sql -f, or spark.sql() per statement)",
    };
    let mut out = format!("-- bedrock-spend {} DDL for {engine}.\n", env!("CARGO_PKG_VERSION"));
    for s in statements(o)? {
        out.push_str(&format!("\n-- {}\n{};\n", s.comment, s.sql.trim_end()));
    }
    Ok(out)
}

/// Where the per-day manifests are, under the warehouse (see [`crate::store::symlink`]).
fn manifests_location(o: &Options) -> String {
    format!("{}/{}/", o.location, crate::store::symlink::SYMLINK_DIR)
}

/// The `invocations` table, read through the per-day manifests the writer switches in one PUT (see
/// [`crate::store::symlink`]), so a compaction never shows an engine a day twice or not at all.
///
/// Athena: a Hive table with `SymlinkTextInputFormat` over `_symlink_format_manifest/` and the Parquet SerDe, as for
/// Delta Lake's manifests (docs.delta.io, "Presto and Athena to Delta Lake integration": "Presto and Athena support
/// reading from external tables using a manifest file ... rather than finding the files by directory listing"), with
/// partition projection whose `storage.location.template` names each day's manifest folder. Partition projection
/// computes a partition's location from the template for any Hive table (docs.aws.amazon.com/athena/latest/ug/
/// partition-projection.html); no AWS page we found says in so many words that it combines with a symlink table,
/// and none excludes it. UNCONFIRMED on a live Athena: README says how to fall back to registered partitions.
///
/// Spark cannot read a Parquet `SymlinkTextInputFormat` table: the Hive reader returned no rows in local PySpark
/// 4.3 (partitions found, every query empty), and the change that would add it (SPARK-32432, apache/spark#35734)
/// was closed unmerged. So Spark reads the files as a plain Parquet table, `invocation_files`, the manifests as a
/// text table, `invocation_manifests`, and `invocations` is a view keeping the rows of files some manifest of their
/// day names. Files are matched by day and file name (unique in the warehouse: run id and sequence), so a manifest's
/// `s3://` URI matches the file Spark lists as `s3a://` (open-source Spark) or through a mount.
fn invocations_table(o: &Options, db: &str) -> Result<Vec<Statement>, Error> {
    let columns: Vec<(String, arrow::datatypes::DataType)> =
        FILE_SCHEMA.fields().iter().map(|f| (f.name().clone(), f.data_type().clone())).collect();
    let day = PARTITION_COLUMN;
    let manifests = manifests_location(o);
    match o.engine {
        Engine::Athena => {
            let mut lines = Vec::with_capacity(columns.len());
            for (name, data_type) in &columns {
                lines.push(format!("  `{name}` {}", sql::column_type(name, data_type)?));
            }
            let sql = format!(
                "CREATE EXTERNAL TABLE IF NOT EXISTS {db}invocations (\n{}\n)\nPARTITIONED BY (`{day}` date)\n\
                 ROW FORMAT SERDE 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe'\n\
                 STORED AS INPUTFORMAT 'org.apache.hadoop.hive.ql.io.SymlinkTextInputFormat'\n\
                 OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'\n\
                 LOCATION '{manifests}'\n{}",
                lines.join(",\n"),
                projection(o.since, &manifests)
            );
            Ok(vec![Statement {
                comment:
                    "The warehouse, read through its per-day manifests (each day's live Parquet files, switched in \
                          one PUT by ingest and compaction), with partition projection on `day`: no crawler, no MSCK \
                          REPAIR; a query filtered on `day` reads only those days' manifests and files."
                        .into(),
                sql,
            }])
        }
        Engine::Spark => {
            let root = format!("{}/invocations/", o.location);
            let files = parquet_table(o.engine, db, "invocation_files", &columns, Some(o.since), &root)?;
            let manifest_table = format!(
                "CREATE TABLE IF NOT EXISTS {db}invocation_manifests (\n  `value` string,\n  `{day}` date\n)\n\
                 USING text\nPARTITIONED BY (`{day}`)\nLOCATION '{manifests}'"
            );
            let names: Vec<String> = columns.iter().map(|(name, _)| format!("f.`{name}`")).collect();
            let view = format!(
                "CREATE OR REPLACE VIEW {db}invocations AS\nSELECT {}, f.`{day}`\n\
                 FROM (SELECT *, _metadata.file_name AS file_name FROM {db}invocation_files) f\n\
                 LEFT SEMI JOIN {db}invocation_manifests m\n\
                 ON f.`{day}` = m.`{day}` AND f.file_name = regexp_extract(m.value, '[^/]+$', 0)",
                names.join(", ")
            );
            Ok(vec![
                Statement {
                    comment: "Every Parquet file under the day=YYYY-MM-DD folders (during a compaction: both \
                              generations of a day; read `invocations`)."
                        .into(),
                    sql: files,
                },
                Statement {
                    comment: "The per-day manifests: each day's live files, one URI a line.".into(),
                    sql: manifest_table,
                },
                Statement {
                    comment: "Register the day folders as partitions; run again after each ingest adds days.".into(),
                    sql: format!("MSCK REPAIR TABLE {db}invocation_files"),
                },
                Statement {
                    comment: "The same for the manifests' day folders.".into(),
                    sql: format!("MSCK REPAIR TABLE {db}invocation_manifests"),
                },
                Statement {
                    comment: "The warehouse as the manifests name it: exactly one generation of each day, even while \
                              a compaction swaps it."
                        .into(),
                    sql: view,
                },
            ])
        }
    }
}

/// Athena's partition projection on `day`, each day's folder under `location`.
fn projection(since: NaiveDate, location: &str) -> String {
    let day = PARTITION_COLUMN;
    format!(
        "TBLPROPERTIES (\n  'projection.enabled' = 'true',\n  \
         'projection.{day}.type' = 'date',\n  'projection.{day}.format' = 'yyyy-MM-dd',\n  \
         'projection.{day}.range' = '{since},NOW',\n  'projection.{day}.interval' = '1',\n  \
         'projection.{day}.interval.unit' = 'DAYS',\n  \
         'storage.location.template' = '{location}{day}=${{{day}}}/'\n)"
    )
}

/// `CREATE EXTERNAL TABLE` (Athena) or `CREATE TABLE ... USING parquet` (Spark) over a folder; `since` makes it
/// partitioned by `day`.
fn parquet_table(
    engine: Engine,
    db: &str,
    table: &str,
    columns: &[(String, arrow::datatypes::DataType)],
    since: Option<NaiveDate>,
    location: &str,
) -> Result<String, Error> {
    let mut lines = Vec::with_capacity(columns.len() + 1);
    for (name, data_type) in columns {
        lines.push(format!("  `{name}` {}", sql::column_type(name, data_type)?));
    }
    let day = PARTITION_COLUMN;
    Ok(match (engine, since) {
        (Engine::Athena, since) => {
            let mut text = format!("CREATE EXTERNAL TABLE IF NOT EXISTS {db}{table} (\n{}\n)\n", lines.join(",\n"));
            if since.is_some() {
                text.push_str(&format!("PARTITIONED BY (`{day}` date)\n"));
            }
            text.push_str(&format!("STORED AS PARQUET\nLOCATION '{location}'"));
            if let Some(since) = since {
                text.push_str(&format!("\n{}", projection(since, location)));
            }
            text
        }
        (Engine::Spark, since) => {
            if since.is_some() {
                lines.push(format!("  `{day}` date"));
            }
            let mut text =
                format!("CREATE TABLE IF NOT EXISTS {db}{table} (\n{}\n)\nUSING parquet\n", lines.join(",\n"));
            if since.is_some() {
                text.push_str(&format!("PARTITIONED BY (`{day}`)\n"));
            }
            text.push_str(&format!("LOCATION '{location}'"));
            text
        }
    })
}

/// A table over a CSV sheet with a header line, every column as text (Athena's OpenCSVSerde reads only
/// strings; Spark is told the same so that both views cast alike). The sheet may open with `#` comment lines
/// (the bundled book does) and hold more between rows, as the loader allows: Spark skips them (`comment`),
/// Athena skips the `skip` lines up to the header, and the typed views drop rows whose model starts with `#`.
fn csv_table(engine: Engine, db: &str, table: &str, columns: &[String], location: &str, skip: usize) -> String {
    let lines = columns.iter().map(|c| format!("  `{c}` string")).collect::<Vec<_>>().join(",\n");
    match engine {
        Engine::Athena => format!(
            "CREATE EXTERNAL TABLE IF NOT EXISTS {db}{table} (\n{lines}\n)\n\
             ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.OpenCSVSerde'\n\
             WITH SERDEPROPERTIES ('separatorChar' = ',', 'quoteChar' = '\"')\n\
             STORED AS TEXTFILE\nLOCATION '{location}'\nTBLPROPERTIES ('skip.header.line.count' = '{skip}')"
        ),
        Engine::Spark => format!(
            "CREATE TABLE IF NOT EXISTS {db}{table} (\n{lines}\n)\nUSING csv\nOPTIONS (header 'true', comment '#')\n\
             LOCATION '{location}'"
        ),
    }
}

/// Drops what Athena reads as rows from `#` comment lines between a sheet's rows (Spark skips them itself).
const COMMENT_ROWS: &str = "WHERE NOT coalesce(trim(model) LIKE '#%', false)";

/// Text of a sheet cell: trimmed, empty as NULL (Athena reads an empty cell as '', Spark as NULL).
fn cell(column: &str) -> String {
    format!("NULLIF(trim({column}), '')")
}

/// The `prices` view: DataFusion's `prices` table from the sheet's text. Prices are parsed as DECIMAL(20,10)
/// (the book's 10 decimals) and multiplied by an exact 0.000001 for the per-token rate (a division would
/// round in Trino). `tier` is lower case with blank as `standard` and `long_context_above` a BIGINT with blank
/// as NULL, as the loader makes them (both constant in a book older than those columns). `price_row` is the
/// row's key (model, Region, routing, start, tier, threshold: the loader refuses two rows with the same key).
/// Columns the view does not know (new ones in the sheet) pass through as text.
fn prices_view(db: &str, columns: &[String]) -> String {
    let has = |name: &str| columns.iter().any(|c| c == name);
    let tier = if has("tier") { format!("coalesce(lower({}), 'standard')", cell("tier")) } else { "'standard'".into() };
    let threshold = if has("long_context_above") {
        format!("CAST({} AS BIGINT)", cell("long_context_above"))
    } else {
        "CAST(NULL AS BIGINT)".into()
    };
    let threshold_text =
        if has("long_context_above") { format!("coalesce({}, '')", cell("long_context_above")) } else { "''".into() };
    let mut items = vec![
        format!(
            "  concat({}, '|', {}, '|', {}, '|', coalesce({}, ''), '|', {tier}, '|', {threshold_text}) AS price_row",
            cell("model"),
            cell("region"),
            cell("routing"),
            cell("effective_from")
        ),
        format!("  {tier} AS tier"),
        format!("  {threshold} AS long_context_above"),
    ];
    for c in columns.iter().filter(|c| !matches!(c.as_str(), "tier" | "long_context_above")) {
        if let Some(class) = c.strip_suffix("_per_mtok") {
            let mtok = format!("CAST({} AS DECIMAL(20,10))", cell(c));
            items.push(format!("  {mtok} AS {c}"));
            items.push(format!(
                "  CAST({mtok} * CAST('0.000001' AS DECIMAL(7,6)) AS {}) AS {class}_per_token",
                sql::RATE_TYPE
            ));
        } else if c == "effective_from" || c == "effective_to" {
            items.push(format!("  CAST({} AS DATE) AS {c}", cell(c)));
            let (name, open) =
                if c == "effective_from" { ("valid_from", "0001-01-01") } else { ("valid_to", "9999-12-31") };
            items.push(format!("  coalesce(CAST({} AS DATE), DATE '{open}') AS {name}", cell(c)));
        } else {
            items.push(format!("  {} AS {c}", cell(c)));
        }
    }
    format!("CREATE OR REPLACE VIEW {db}prices AS\nSELECT\n{}\nFROM {db}price_book\n{COMMENT_ROWS}", items.join(",\n"))
}

/// The `provisioned_prices` view, typed as DataFusion's table.
fn provisioned_view(db: &str, columns: &[String]) -> String {
    let items = columns
        .iter()
        .map(|c| match c.as_str() {
            "price_per_mu_hour" => format!("  CAST({} AS DECIMAL(24,10)) AS {c}", cell(c)),
            c if c.ends_with("_tpm_per_mu") => format!("  CAST({} AS BIGINT) AS {c}", cell(c)),
            c => format!("  {} AS {c}", cell(c)),
        })
        .collect::<Vec<_>>();
    format!(
        "CREATE OR REPLACE VIEW {db}provisioned_prices AS\nSELECT\n{}\nFROM {db}provisioned_price_book\n{COMMENT_ROWS}",
        items.join(",\n")
    )
}

/// `price_settings`: one row, the discount and its exact multiplier ((100 - pct) / 100).
fn settings_view(db: &str, discount: &Discount) -> String {
    let multiplier = 100_000_000 - discount.micro_percent();
    let pct = rust_decimal::Decimal::from_i128_with_scale(discount.micro_percent(), 6);
    let multiplier = rust_decimal::Decimal::from_i128_with_scale(multiplier, 8);
    format!(
        "CREATE OR REPLACE VIEW {db}price_settings AS\nSELECT CAST('{pct}' AS DECIMAL(12,6)) AS discount_pct, \
         CAST('{multiplier}' AS {}) AS discount_multiplier",
        sql::MULTIPLIER_TYPE
    )
}

/// A view template from `queries/engines/` with its slots filled; its header comment (which names the slots)
/// is dropped.
fn fill(template: &str, engine: Engine, db: &str, thresholds: &[i64]) -> String {
    let body: String = template.lines().skip_while(|l| l.starts_with("--")).map(|l| format!("{l}\n")).collect();
    body.replace("{{db}}", db)
        .replace("{{model_refs}}", &sql::model_ref_ctes(engine))
        .replace("{{rate_type}}", sql::RATE_TYPE)
        .replace("{{token_costs}}", &sql::token_costs())
        .replace("{{long_context_floor}}", &sql::long_context_floor(thresholds))
        .replace("{{invocation_columns}}", &invocation_columns())
}

/// Every `invocations` column for `invocation_costs`' select list, as the DataFusion view orders them: `day`
/// after `timestamp`, and `model` resolved through the estate tables.
fn invocation_columns() -> String {
    let mut items = Vec::new();
    for f in FILE_SCHEMA.fields() {
        match f.name().as_str() {
            "model" => items.push("  c.resolved_model AS model".to_string()),
            name => items.push(format!("  c.{name}")),
        }
        if f.name() == "timestamp" {
            items.push(format!("  c.{PARTITION_COLUMN}"));
        }
    }
    items.join(",\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(engine: Engine, location: &str) -> Options {
        Options {
            engine,
            database: Some("bedrock".into()),
            location: location.into(),
            prices_location: format!("{location}/pricing"),
            since: DEFAULT_SINCE,
            discount: Discount::parse("12.5").unwrap(),
            price_columns: csv_header(crate::pricing::BUNDLED_PRICES, "bundled").unwrap(),
            provisioned_columns: csv_header(crate::pricing::BUNDLED_PROVISIONED, "bundled").unwrap(),
            long_context_thresholds: vec![200_000],
            header_lines: [csv_header_lines(crate::pricing::BUNDLED_PRICES), 1],
        }
    }

    #[test]
    fn athena_projects_days_from_the_location() {
        let text = script(&options(Engine::Athena, "s3://bucket/wh")).unwrap();
        for needle in [
            "LOCATION 's3://bucket/wh/_symlink_format_manifest/'",
            "STORED AS INPUTFORMAT 'org.apache.hadoop.hive.ql.io.SymlinkTextInputFormat'",
            "ROW FORMAT SERDE 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe'",
            "'projection.day.type' = 'date'",
            "'projection.day.range' = '2023-09-01,NOW'",
            "'storage.location.template' = 's3://bucket/wh/_symlink_format_manifest/day=${day}/'",
            "PARTITIONED BY (`day` date)",
            "LOCATION 's3://bucket/wh/pricing/bedrock-prices/'",
            "CAST('0.87500000' AS DECIMAL(9,8)) AS discount_multiplier",
            "'skip.header.line.count' = '11'",
        ] {
            assert!(text.contains(needle), "missing {needle}");
        }
        assert!(!text.contains("{{"), "every slot filled");
        assert!(!text.contains("MSCK REPAIR TABLE"), "projection needs no repair");
        assert!(!text.contains("/invocations/"), "Athena never lists the day folders itself");
    }

    #[test]
    fn athena_refuses_a_local_location_and_bad_names() {
        assert!(matches!(statements(&options(Engine::Athena, "file:/tmp/wh")), Err(Error::NotS3 { .. })));
        let mut o = options(Engine::Spark, "file:/tmp/wh");
        o.database = Some("x; DROP".into());
        assert!(matches!(statements(&o), Err(Error::Database { .. })));
        let o = options(Engine::Spark, "file:/tmp/it's");
        assert!(matches!(statements(&o), Err(Error::Quote { .. })));
    }

    #[test]
    fn spark_partitions_and_repairs() {
        let text = script(&options(Engine::Spark, "file:/tmp/wh")).unwrap();
        assert!(
            text.contains("invocation_files (")
                && text.contains("PARTITIONED BY (`day`)\nLOCATION 'file:/tmp/wh/invocations/'")
        );
        assert!(text.contains("USING text\nPARTITIONED BY (`day`)\nLOCATION 'file:/tmp/wh/_symlink_format_manifest/'"));
        assert!(text.contains("MSCK REPAIR TABLE bedrock.invocation_files"));
        assert!(text.contains("MSCK REPAIR TABLE bedrock.invocation_manifests"));
        assert!(text.contains("CREATE OR REPLACE VIEW bedrock.invocations AS"), "the views read the manifests' view");
        assert!(!text.contains("{{"));
    }

    #[test]
    fn unknown_sheet_columns_pass_through() {
        let mut o = options(Engine::Spark, "file:/tmp/wh");
        o.price_columns.push("notes".into());
        let text = script(&o).unwrap();
        assert!(text.contains("NULLIF(trim(notes), '') AS notes"));
        assert!(text.contains("`notes` string"));
    }

    #[test]
    fn prices_view_types_tier_and_threshold_even_for_older_books() {
        let o = options(Engine::Spark, "file:/tmp/wh");
        let text = script(&o).unwrap();
        assert!(text.contains("coalesce(lower(NULLIF(trim(tier), '')), 'standard') AS tier"), "{text}");
        assert!(text.contains("CAST(NULLIF(trim(long_context_above), '') AS BIGINT) AS long_context_above"));
        assert!(text.contains("> 200000 THEN CAST(200000 AS BIGINT)"), "the floor from the thresholds");
        let mut old = o.clone();
        old.price_columns.retain(|c| c != "tier" && c != "long_context_above");
        let text = script(&old).unwrap();
        assert!(text.contains("  'standard' AS tier") && text.contains("  CAST(NULL AS BIGINT) AS long_context_above"));
    }
}
