//! Shared AWS set-up: one place builds the SDK configuration (default credential chain, `--profile`,
//! `--region`, `--endpoint-url` / `AWS_ENDPOINT_URL`, the SDK's standard retry with backoff) and the S3,
//! CloudWatch Logs and Bedrock clients. Tests change only the endpoint.

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::error::SdkError;

/// How to reach AWS.
#[derive(Debug, Clone, Default)]
pub struct AwsOptions {
    /// A named profile from the shared config files.
    pub profile: Option<String>,
    /// The Region (otherwise the default chain's).
    pub region: Option<String>,
    /// Send every call here (an emulator or a VPC endpoint); `AWS_ENDPOINT_URL` works too.
    pub endpoint_url: Option<String>,
    /// Attempts per call, with backoff on throttling and 5xx (the SDK's standard retry).
    pub max_attempts: Option<u32>,
}

/// The SDK configuration for one Region (or the default Region).
pub async fn sdk_config(options: &AwsOptions, region: Option<&str>) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(profile) = &options.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(r) = region.map(str::to_string).or_else(|| options.region.clone()) {
        loader = loader.region(Region::new(r));
    }
    if let Some(endpoint) = &options.endpoint_url {
        loader = loader.endpoint_url(endpoint);
    }
    if let Some(attempts) = options.max_attempts {
        loader = loader.retry_config(RetryConfig::standard().with_max_attempts(attempts.max(1)));
    }
    loader.load().await
}

/// An S3 client; path-style addressing when a custom endpoint is set (emulators and most proxies need it).
pub fn s3_client(config: &SdkConfig) -> aws_sdk_s3::Client {
    let custom_endpoint = config.endpoint_url().is_some() || std::env::var_os("AWS_ENDPOINT_URL").is_some();
    let s3 = aws_sdk_s3::config::Builder::from(config).force_path_style(custom_endpoint).build();
    aws_sdk_s3::Client::from_conf(s3)
}

/// A CloudWatch Logs client.
pub fn logs_client(config: &SdkConfig) -> aws_sdk_cloudwatchlogs::Client {
    aws_sdk_cloudwatchlogs::Client::new(config)
}

/// A Bedrock control-plane client.
pub fn bedrock_client(config: &SdkConfig) -> aws_sdk_bedrock::Client {
    aws_sdk_bedrock::Client::new(config)
}

/// A readable account of an SDK error. On access denied it names the IAM action the caller is missing.
pub fn describe<E, R>(err: &SdkError<E, R>, action: &str, resource: &str) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let (code, message) = match err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            (e.code().map(str::to_string), e.message().map(str::to_string))
        }
        _ => (None, None),
    };
    let denied =
        code.as_deref().is_some_and(|c| c.contains("AccessDenied") || c == "UnauthorizedOperation" || c == "Forbidden");
    if denied {
        return format!("access denied on {resource}: the caller needs {action} ({})", message.unwrap_or_default());
    }
    let detail = match (code, message) {
        (Some(c), Some(m)) => format!("{c}: {m}"),
        (Some(c), None) => c,
        _ => format!("{}", aws_sdk_s3::error::DisplayErrorContext(err)),
    };
    format!("{action} on {resource} failed: {detail}")
}
