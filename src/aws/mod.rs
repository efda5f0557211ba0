//! AWS (edge): one place builds the SDK configuration (default credential chain, `--profile`, `--region`,
//! `--endpoint-url` / `AWS_ENDPOINT_URL`, the SDK's standard retry with backoff) and the S3, CloudWatch Logs and
//! Bedrock clients, and turns SDK errors into readable, classified ones. Tests change only the endpoint.
//!
//! [`discover`] is the one place that talks to the Bedrock control plane (logging destination, estate). Reading
//! logs (S3 objects, CloudWatch events) is the business of `ingest::sources`, through the clients built here.

use std::io;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::error::SdkError;

pub mod discover;

/// How to reach AWS.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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

/// The object store of a warehouse in S3 (`bucket`): the same credential chain, Region and endpoint as the SDK
/// clients built here (path-style addressing and plain HTTP allowed when a custom endpoint is set, as emulators
/// need). Credentials come from the SDK's provider, so profiles, SSO, IMDS and web identity work as for the sources.
pub async fn warehouse_store(
    options: &AwsOptions,
    bucket: &str,
) -> Result<std::sync::Arc<dyn object_store::ObjectStore>, object_store::Error> {
    use object_store::aws::AmazonS3Builder;
    let config = sdk_config(options, None).await;
    let mut builder = AmazonS3Builder::new().with_bucket_name(bucket);
    if let Some(region) = config.region() {
        builder = builder.with_region(region.as_ref());
    }
    let endpoint = options
        .endpoint_url
        .clone()
        .or_else(|| std::env::var("AWS_ENDPOINT_URL_S3").ok())
        .or_else(|| config.endpoint_url().map(str::to_string))
        .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok());
    if let Some(endpoint) = endpoint {
        builder = builder
            .with_allow_http(endpoint.starts_with("http://"))
            .with_virtual_hosted_style_request(false)
            .with_endpoint(endpoint);
    }
    if let Some(provider) = config.credentials_provider() {
        builder = builder.with_credentials(std::sync::Arc::new(SdkCredentials::new(provider)));
    }
    if let Some(attempts) = options.max_attempts {
        // object_store retries by itself (not through the SDK): the same bound, as retries after the first.
        let retry = object_store::RetryConfig { max_retries: attempts.max(1) as usize - 1, ..Default::default() };
        builder = builder.with_retry(retry);
    }
    Ok(std::sync::Arc::new(builder.build()?))
}

/// The SDK's credential provider as object_store's, caching each credential until five minutes before it
/// expires (the SDK's clients cache theirs the same way; object_store asks before every request).
#[derive(Debug)]
struct SdkCredentials {
    provider: aws_sdk_s3::config::SharedCredentialsProvider,
    cached:
        tokio::sync::Mutex<Option<(std::sync::Arc<object_store::aws::AwsCredential>, Option<std::time::SystemTime>)>>,
}

impl SdkCredentials {
    fn new(provider: aws_sdk_s3::config::SharedCredentialsProvider) -> Self {
        SdkCredentials { provider, cached: tokio::sync::Mutex::new(None) }
    }
}

#[async_trait::async_trait]
impl object_store::CredentialProvider for SdkCredentials {
    type Credential = object_store::aws::AwsCredential;

    async fn get_credential(&self) -> object_store::Result<std::sync::Arc<Self::Credential>> {
        use aws_sdk_s3::config::ProvideCredentials;
        let mut cached = self.cached.lock().await;
        let margin = std::time::Duration::from_secs(300);
        if let Some((credential, expiry)) = cached.as_ref() {
            let fresh =
                expiry.is_none_or(|at| at.checked_sub(margin).is_some_and(|t| std::time::SystemTime::now() < t));
            if fresh {
                return Ok(credential.clone());
            }
        }
        let credentials = self
            .provider
            .provide_credentials()
            .await
            .map_err(|e| object_store::Error::Generic { store: "S3", source: Box::new(e) })?;
        let credential = std::sync::Arc::new(object_store::aws::AwsCredential {
            key_id: credentials.access_key_id().to_string(),
            secret_key: credentials.secret_access_key().to_string(),
            token: credentials.session_token().map(str::to_string),
        });
        *cached = Some((credential.clone(), credentials.expiry()));
        Ok(credential)
    }
}

/// A CloudWatch Logs client.
pub fn logs_client(config: &SdkConfig) -> aws_sdk_cloudwatchlogs::Client {
    aws_sdk_cloudwatchlogs::Client::new(config)
}

/// A Bedrock control-plane client.
pub fn bedrock_client(config: &SdkConfig) -> aws_sdk_bedrock::Client {
    aws_sdk_bedrock::Client::new(config)
}

/// `s3://bucket/prefix`: where objects are, for listing, for fetching and for a Region's log destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    /// The bucket name.
    pub bucket: String,
    /// Key prefix without a leading slash; empty for the whole bucket.
    pub prefix: String,
}

impl S3Location {
    /// Read an `s3://BUCKET[/PREFIX]` URL; `None` when it is not one.
    pub fn parse(url: &str) -> Option<S3Location> {
        let rest = url.strip_prefix("s3://")?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return None;
        }
        Some(S3Location { bucket: bucket.to_string(), prefix: prefix.trim_start_matches('/').to_string() })
    }
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

/// The I/O error kind that carries an SDK error's verdict to the code reading a source: `PermissionDenied` when
/// the caller lacks a permission or valid credentials, `NotFound` when the resource does not exist, `Other`
/// (a transport failure, retried by the next run) for everything else. Decided from the service's error code.
pub fn error_kind<E, R>(err: &SdkError<E, R>) -> io::ErrorKind
where
    E: ProvideErrorMetadata,
{
    match err {
        SdkError::ServiceError(service) => service.err().code().map_or(io::ErrorKind::Other, kind_of_code),
        SdkError::TimeoutError(_) => io::ErrorKind::TimedOut,
        _ => io::ErrorKind::Other,
    }
}

/// [`error_kind`] of a service error code.
fn kind_of_code(code: &str) -> io::ErrorKind {
    const DENIED: &[&str] = &[
        "UnauthorizedOperation",
        "Forbidden",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
    ];
    const MISSING: &[&str] = &["ResourceNotFoundException", "NoSuchKey", "NoSuchBucket", "NotFound", "NoSuchEntity"];
    if code.contains("AccessDenied") || DENIED.contains(&code) {
        io::ErrorKind::PermissionDenied
    } else if MISSING.contains(&code) {
        io::ErrorKind::NotFound
    } else {
        io::ErrorKind::Other
    }
}

/// An SDK error as the I/O error a source reader returns: [`describe`]'s text, with [`error_kind`]'s kind, so
/// ingest can classify the failure without reading the text.
pub fn io_error<E, R>(err: &SdkError<E, R>, action: &str, resource: &str) -> io::Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    io::Error::new(error_kind(err), describe(err, action, resource))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_classify() {
        let cases = [
            ("AccessDenied", io::ErrorKind::PermissionDenied),
            ("AccessDeniedException", io::ErrorKind::PermissionDenied),
            ("ExpiredTokenException", io::ErrorKind::PermissionDenied),
            ("ResourceNotFoundException", io::ErrorKind::NotFound),
            ("NoSuchKey", io::ErrorKind::NotFound),
            ("NoSuchBucket", io::ErrorKind::NotFound),
            ("ThrottlingException", io::ErrorKind::Other),
            ("InternalError", io::ErrorKind::Other),
            ("ResourceNotFound", io::ErrorKind::Other),
        ];
        for (code, want) in cases {
            assert_eq!(kind_of_code(code), want, "code {code}");
        }
    }

    #[test]
    fn s3_urls() {
        let parsed = |url| S3Location::parse(url).map(|l| (l.bucket, l.prefix));
        assert_eq!(parsed("s3://b/p/q/"), Some(("b".into(), "p/q/".into())));
        assert_eq!(parsed("s3://b"), Some(("b".into(), String::new())));
        assert_eq!(parsed("s3://b//x"), Some(("b".into(), "x".into())));
        assert_eq!(parsed("s3:///x"), None);
        assert_eq!(parsed("https://b/x"), None);
    }
}
