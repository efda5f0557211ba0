//! `ddl --upload-prices` (edge): puts the price book files where the engine tables of [`super::statements`]
//! read them, `<prices location>/<folder>/<file>` ([`super::PRICE_FILES`]): on S3 through the client every AWS
//! call uses (same credential chain, Region and endpoint handling as the S3 source), or into a local folder.

use std::path::PathBuf;

use crate::aws::{self, AwsOptions, S3Location};

use super::Error;

/// One file to put: its folder under the prices location, its name and its bytes.
#[derive(Debug, Clone)]
pub struct PriceFile {
    pub folder: &'static str,
    pub name: &'static str,
    pub bytes: Vec<u8>,
}

/// Put each file under `location` (`s3://bucket/prefix`, `file:/path` or a plain path); returns where each went.
pub async fn upload(location: &str, files: &[PriceFile], aws_options: &AwsOptions) -> Result<Vec<String>, Error> {
    let mut written = Vec::with_capacity(files.len());
    if let Some(s3) = S3Location::parse(location) {
        let config = aws::sdk_config(aws_options, None).await;
        let client = aws::s3_client(&config);
        for f in files {
            let key = [s3.prefix.trim_end_matches('/'), f.folder, f.name]
                .into_iter()
                .filter(|p| !p.is_empty())
                .collect::<Vec<_>>()
                .join("/");
            let body = aws_sdk_s3::primitives::ByteStream::from(f.bytes.clone());
            let uri = format!("s3://{}/{key}", s3.bucket);
            client.put_object().bucket(&s3.bucket).key(&key).content_type("text/csv").body(body).send().await.map_err(
                |e| Error::Put {
                    bucket: s3.bucket.clone(),
                    key: key.clone(),
                    message: aws::describe(&e, "s3:PutObject", &uri),
                },
            )?;
            written.push(uri);
        }
        return Ok(written);
    }
    let root = local_path(location);
    for f in files {
        let dir = root.join(f.folder);
        let path = dir.join(f.name);
        let write = std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, &f.bytes));
        write.map_err(|source| Error::Write { path: path.display().to_string(), source })?;
        written.push(path.display().to_string());
    }
    Ok(written)
}

/// The folder a `file:` URI or a plain path names.
fn local_path(location: &str) -> PathBuf {
    let path = location.strip_prefix("file://").or_else(|| location.strip_prefix("file:")).unwrap_or(location);
    PathBuf::from(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_uris_name_local_folders() {
        assert_eq!(local_path("file:/tmp/x"), PathBuf::from("/tmp/x"));
        assert_eq!(local_path("file:///tmp/x"), PathBuf::from("/tmp/x"));
        assert_eq!(local_path("/tmp/x"), PathBuf::from("/tmp/x"));
    }
}
