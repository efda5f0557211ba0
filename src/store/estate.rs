//! The Bedrock estate tables `provisioned_throughputs` and `inference_profiles`: their rows
//! ([`ProvisionedThroughput`], [`InferenceProfile`]), their schemas, and one Parquet snapshot per Region,
//! replaced atomically each time `ingest auto` reads the Region, so each table holds the latest view. What fills
//! the rows (the control-plane calls) is [`crate::aws::discover`]'s; this module only stores them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};

use arrow::array::{
    ArrayRef, Int64Array, MapBuilder, MapFieldNames, RecordBatch, StringArray, StringBuilder, TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use chrono::{DateTime, Utc};

use super::files::Files;
use super::schema::{UTC, request_metadata_type};

/// A Provisioned Throughput: a row of `provisioned_throughputs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisionedThroughput {
    pub region: String,
    pub arn: String,
    pub name: String,
    pub model_arn: String,
    pub foundation_model_arn: String,
    /// Base model id read from the foundation-model ARN.
    pub model: Option<String>,
    pub model_units: i64,
    pub desired_model_units: i64,
    pub commitment: Option<String>,
    pub status: String,
    pub created_at: Option<DateTime<Utc>>,
    pub commitment_expires_at: Option<DateTime<Utc>>,
}

/// An application inference profile: a row of `inference_profiles`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InferenceProfile {
    pub region: String,
    pub arn: String,
    pub id: String,
    pub name: String,
    pub kind: String,
    pub status: String,
    /// Base model id of the profile's models (all the same model, in one or more Regions).
    pub model: Option<String>,
    pub model_arns: Vec<String>,
    pub tags: BTreeMap<String, String>,
}

fn ts() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some(UTC.into()))
}

/// Schema of `provisioned_throughputs`.
pub static PROVISIONED_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("region", DataType::Utf8, false),
        Field::new("arn", DataType::Utf8, false),
        Field::new("name", DataType::Utf8, false),
        Field::new("model_arn", DataType::Utf8, false),
        Field::new("foundation_model_arn", DataType::Utf8, false),
        Field::new("model", DataType::Utf8, true),
        Field::new("model_units", DataType::Int64, false),
        Field::new("desired_model_units", DataType::Int64, false),
        Field::new("commitment", DataType::Utf8, true),
        Field::new("status", DataType::Utf8, false),
        Field::new("created_at", ts(), true),
        Field::new("commitment_expires_at", ts(), true),
        Field::new("discovered_at", ts(), false),
    ]))
});

/// Schema of `inference_profiles`.
pub static PROFILES_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("region", DataType::Utf8, false),
        Field::new("arn", DataType::Utf8, false),
        Field::new("id", DataType::Utf8, false),
        Field::new("name", DataType::Utf8, false),
        Field::new("type", DataType::Utf8, false),
        Field::new("status", DataType::Utf8, false),
        Field::new("model", DataType::Utf8, true),
        Field::new("model_arns", DataType::Utf8, false),
        Field::new("tags", request_metadata_type(), true),
        Field::new("discovered_at", ts(), false),
    ]))
});

/// Table directories under the warehouse.
pub fn table_dir(warehouse: &Path, table: &str) -> PathBuf {
    warehouse.join("estate").join(table)
}

fn strings<T>(rows: &[T], f: impl Fn(&T) -> Option<String>) -> ArrayRef {
    Arc::new(StringArray::from(rows.iter().map(f).collect::<Vec<_>>()))
}

fn times<T>(rows: &[T], f: impl Fn(&T) -> Option<DateTime<Utc>>) -> ArrayRef {
    Arc::new(
        TimestampMicrosecondArray::from(rows.iter().map(|r| f(r).map(|t| t.timestamp_micros())).collect::<Vec<_>>())
            .with_timezone(UTC),
    )
}

/// Replace a Region's snapshot of both tables in a local warehouse.
pub fn write_snapshot(
    warehouse: &Path,
    region: &str,
    provisioned: &[ProvisionedThroughput],
    profiles: &[InferenceProfile],
    now: DateTime<Utc>,
) -> Result<(), super::warehouse::Error> {
    write_snapshot_to(&Files::local(warehouse), region, provisioned, profiles, now)
}

/// Replace a Region's snapshot of both tables in the warehouse whose files are `files` (local or remote).
pub fn write_snapshot_to(
    files: &Files,
    region: &str,
    provisioned: &[ProvisionedThroughput],
    profiles: &[InferenceProfile],
    now: DateTime<Utc>,
) -> Result<(), super::warehouse::Error> {
    let warehouse = files.root();
    let err = |during| move |source| super::warehouse::Error::Arrow { during, source };
    let pt = RecordBatch::try_new(
        PROVISIONED_SCHEMA.clone(),
        vec![
            strings(provisioned, |p| Some(p.region.clone())),
            strings(provisioned, |p| Some(p.arn.clone())),
            strings(provisioned, |p| Some(p.name.clone())),
            strings(provisioned, |p| Some(p.model_arn.clone())),
            strings(provisioned, |p| Some(p.foundation_model_arn.clone())),
            strings(provisioned, |p| p.model.clone()),
            Arc::new(Int64Array::from(provisioned.iter().map(|p| p.model_units).collect::<Vec<_>>())),
            Arc::new(Int64Array::from(provisioned.iter().map(|p| p.desired_model_units).collect::<Vec<_>>())),
            strings(provisioned, |p| p.commitment.clone()),
            strings(provisioned, |p| Some(p.status.clone())),
            times(provisioned, |p| p.created_at),
            times(provisioned, |p| p.commitment_expires_at),
            times(provisioned, |_| Some(now)),
        ],
    )
    .map_err(err("building provisioned_throughputs"))?;
    let names = MapFieldNames { entry: "entries".into(), key: "keys".into(), value: "values".into() };
    let mut tags = MapBuilder::new(Some(names), StringBuilder::new(), StringBuilder::new());
    for p in profiles {
        for (k, v) in &p.tags {
            tags.keys().append_value(k);
            tags.values().append_value(v);
        }
        tags.append(true).map_err(err("building profile tags"))?;
    }
    let ip = RecordBatch::try_new(
        PROFILES_SCHEMA.clone(),
        vec![
            strings(profiles, |p| Some(p.region.clone())),
            strings(profiles, |p| Some(p.arn.clone())),
            strings(profiles, |p| Some(p.id.clone())),
            strings(profiles, |p| Some(p.name.clone())),
            strings(profiles, |p| Some(p.kind.clone())),
            strings(profiles, |p| Some(p.status.clone())),
            strings(profiles, |p| p.model.clone()),
            strings(profiles, |p| Some(p.model_arns.join(","))),
            Arc::new(tags.finish()),
            times(profiles, |_| Some(now)),
        ],
    )
    .map_err(err("building inference_profiles"))?;
    for (table, batch, schema) in
        [("provisioned_throughputs", pt, &*PROVISIONED_SCHEMA), ("inference_profiles", ip, &*PROFILES_SCHEMA)]
    {
        let path = table_dir(warehouse, table).join(format!("{region}.parquet"));
        let mut bytes = Vec::new();
        {
            let mut writer =
                parquet::arrow::ArrowWriter::try_new(&mut bytes, schema.clone(), Some(super::parquet::writer_props()))
                    .map_err(|e| super::warehouse::Error::Write {
                        path: path.clone(),
                        source: std::io::Error::other(e),
                    })?;
            writer
                .write(&batch)
                .map_err(|e| super::warehouse::Error::Write { path: path.clone(), source: std::io::Error::other(e) })?;
            writer
                .close()
                .map_err(|e| super::warehouse::Error::Write { path: path.clone(), source: std::io::Error::other(e) })?;
        }
        files.write_atomic(&path, &bytes).map_err(|source| super::warehouse::Error::Write { path, source })?;
    }
    Ok(())
}
