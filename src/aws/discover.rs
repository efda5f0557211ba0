//! The Bedrock control plane (edge), the one place that asks it anything: where a Region's invocation logs go
//! (GetModelInvocationLoggingConfiguration), and the Bedrock estate the analysis needs: Provisioned Throughput
//! (ListProvisionedModelThroughputs) and application inference profiles with their models and tags
//! (ListInferenceProfiles, ListTagsForResource), so profile and provisioned-model ARNs in the logs resolve to a
//! base model and a cost-allocation tag. `ingest auto` calls it (from `ingest::plan`); the estate rows it returns
//! are the store's ([`crate::store::estate`]), which writes them as tables.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::{S3Location, describe};
use crate::model_id;
use crate::store::estate::{InferenceProfile, ProvisionedThroughput};

/// Where a Region delivers its logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// Delivered to S3 (preferred when both are configured: it holds every record, large bodies included).
    S3(S3Location),
    /// Delivered to a CloudWatch Logs group only.
    CloudWatch { group: String },
    /// Logging is not enabled in the Region.
    NotConfigured,
}

/// Read the logging configuration of the client's Region.
pub async fn logging_destination(client: &aws_sdk_bedrock::Client, region: &str) -> Result<Destination, String> {
    let response = client
        .get_model_invocation_logging_configuration()
        .send()
        .await
        .map_err(|e| describe(&e, "bedrock:GetModelInvocationLoggingConfiguration", &format!("Region {region}")))?;
    let Some(config) = response.logging_config() else { return Ok(Destination::NotConfigured) };
    if let Some(s3) = config.s3_config() {
        let prefix = s3.key_prefix().unwrap_or_default().trim_start_matches('/').to_string();
        return Ok(Destination::S3(S3Location { bucket: s3.bucket_name().to_string(), prefix }));
    }
    if let Some(cw) = config.cloud_watch_config() {
        return Ok(Destination::CloudWatch { group: cw.log_group_name().to_string() });
    }
    Ok(Destination::NotConfigured)
}

/// How to turn logging on, for the message shown when it is off.
pub fn enable_hint(region: &str) -> String {
    format!(
        "model invocation logging is not enabled in {region}, so there is nothing to ingest there. Enable it, e.g.:\n  \
         aws bedrock put-model-invocation-logging-configuration --region {region} \\\n    \
         --logging-config '{{\"s3Config\":{{\"bucketName\":\"YOUR-BUCKET\",\"keyPrefix\":\"bedrock\"}},\"textDataDeliveryEnabled\":true}}'\n  \
         (the bucket must be in {region} and allow bedrock.amazonaws.com to write; CloudWatch Logs works too)"
    )
}

/// The estate of one Region, with what could not be read.
#[derive(Debug, Default)]
pub struct Estate {
    pub provisioned: Vec<ProvisionedThroughput>,
    pub profiles: Vec<InferenceProfile>,
    pub warnings: Vec<String>,
}

fn to_utc(t: Option<&aws_sdk_bedrock::primitives::DateTime>) -> Option<DateTime<Utc>> {
    t.and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
}

/// List the Region's Provisioned Throughputs and application inference profiles. A failed call is a
/// warning, not an error: ingest goes on without the estate.
pub async fn estate(client: &aws_sdk_bedrock::Client, region: &str) -> Estate {
    let mut estate = Estate::default();
    let mut pages = client.list_provisioned_model_throughputs().into_paginator().send();
    while let Some(page) = pages.next().await {
        match page {
            Ok(page) => {
                for p in page.provisioned_model_summaries() {
                    estate.provisioned.push(ProvisionedThroughput {
                        region: region.to_string(),
                        arn: p.provisioned_model_arn().to_string(),
                        name: p.provisioned_model_name().to_string(),
                        model_arn: p.model_arn().to_string(),
                        foundation_model_arn: p.foundation_model_arn().to_string(),
                        model: model_id::normalize(p.foundation_model_arn()).model,
                        model_units: p.model_units() as i64,
                        desired_model_units: p.desired_model_units() as i64,
                        commitment: p.commitment_duration().map(|c| c.as_str().to_string()),
                        status: p.status().as_str().to_string(),
                        created_at: to_utc(Some(p.creation_time())),
                        commitment_expires_at: to_utc(p.commitment_expiration_time()),
                    });
                }
            }
            Err(e) => {
                let what = describe(&e, "bedrock:ListProvisionedModelThroughputs", &format!("Region {region}"));
                estate.warnings.push(what);
                break;
            }
        }
    }
    let mut pages = client
        .list_inference_profiles()
        .type_equals(aws_sdk_bedrock::types::InferenceProfileType::Application)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        match page {
            Ok(page) => {
                for p in page.inference_profile_summaries() {
                    let model_arns: Vec<String> =
                        p.models().iter().filter_map(|m| m.model_arn().map(str::to_string)).collect();
                    let model = model_arns.iter().find_map(|a| model_id::normalize(a).model);
                    estate.profiles.push(InferenceProfile {
                        region: region.to_string(),
                        arn: p.inference_profile_arn().to_string(),
                        id: p.inference_profile_id().to_string(),
                        name: p.inference_profile_name().to_string(),
                        kind: p.r#type().as_str().to_string(),
                        status: p.status().as_str().to_string(),
                        model,
                        model_arns,
                        tags: BTreeMap::new(),
                    });
                }
            }
            Err(e) => {
                estate.warnings.push(describe(&e, "bedrock:ListInferenceProfiles", &format!("Region {region}")));
                break;
            }
        }
    }
    for profile in &mut estate.profiles {
        match client.list_tags_for_resource().resource_arn(&profile.arn).send().await {
            Ok(r) => profile.tags = r.tags().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect(),
            Err(e) => estate.warnings.push(describe(&e, "bedrock:ListTagsForResource", &profile.arn)),
        }
    }
    estate
}
