//! SQL functions the session adds to DataFusion's own: `token_costs(...)`, the cost arithmetic of both cost views
//! (see [`super::token_costs`]), and `bedrock_model(model_id)`, the crate's model-id normalizer
//! ([`crate::model_id::normalize`]) callable from SQL.
//!
//! Why it exists: `usage_costs` groups ten million rows by model id, and a group's `model`, `provider`, `routing`
//! and `inference_profile` are functions of its id. Reading them as `min()` of the stored columns compared four
//! strings per row, about 30% of the month summary's CPU; normalizing each group's id once after grouping costs
//! nothing. The stored columns hold the same normalizer's answer from the day the row was ingested; the function
//! gives today's, so a group whose rows were ingested by different versions still gets one answer.

use std::sync::{Arc, LazyLock};

use arrow::array::{ArrayRef, AsArray, StringBuilder, StructArray};
use arrow::datatypes::{DataType, Field, Fields};
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility};

use crate::model_id;

/// The fields of `bedrock_model`'s result, named and typed as the `invocations` columns they mirror.
pub static MODEL_REF_FIELDS: LazyLock<Fields> = LazyLock::new(|| {
    Fields::from(vec![
        Field::new("model", DataType::Utf8, true),
        Field::new("provider", DataType::Utf8, true),
        Field::new("routing", DataType::Utf8, false),
        Field::new("inference_profile", DataType::Utf8, true),
    ])
});

/// Every function of this module, to register on a session.
pub fn all() -> Vec<ScalarUDF> {
    vec![ScalarUDF::from(BedrockModel::new()), ScalarUDF::from(super::token_costs::TokenCosts::new())]
}

/// `bedrock_model(model_id)`: a struct of `model`, `provider`, `routing` and `inference_profile`, as ingest
/// derives those columns from `model_id` (a NULL id gives routing `unknown` and NULL elsewhere, as ingest stores).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct BedrockModel {
    signature: Signature,
}

impl BedrockModel {
    pub fn new() -> Self {
        let strings = vec![DataType::Utf8View, DataType::Utf8, DataType::LargeUtf8];
        BedrockModel { signature: Signature::uniform(1, strings, Volatility::Immutable) }
    }
}

impl Default for BedrockModel {
    fn default() -> Self {
        Self::new()
    }
}

impl ScalarUDFImpl for BedrockModel {
    fn name(&self) -> &str {
        "bedrock_model"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Struct(MODEL_REF_FIELDS.clone()))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [ids] = args.args.as_slice() else {
            return exec_err!("bedrock_model takes one argument, got {}", args.args.len());
        };
        let ids = ids.to_array(args.number_rows)?;
        let ids = arrow::compute::cast(&ids, &DataType::Utf8)?;
        Ok(ColumnarValue::Array(model_refs(ids.as_string::<i32>().iter())))
    }
}

/// The struct column for a run of model ids.
fn model_refs<'a>(ids: impl ExactSizeIterator<Item = Option<&'a str>>) -> ArrayRef {
    let rows = ids.len();
    let mut builders: [StringBuilder; 4] = std::array::from_fn(|_| StringBuilder::with_capacity(rows, rows * 32));
    for id in ids {
        let found = id.map(model_id::normalize).unwrap_or_default();
        let [model, provider, routing, profile] = &mut builders;
        model.append_option(found.model.as_deref());
        provider.append_option(found.provider.as_deref());
        routing.append_value(found.routing.as_str());
        profile.append_option(found.inference_profile.as_deref());
    }
    let columns: Vec<ArrayRef> = builders.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef).collect();
    Arc::new(StructArray::new(MODEL_REF_FIELDS.clone(), columns, None))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, StringArray};

    #[test]
    fn struct_fields_mirror_the_invocations_columns() {
        use crate::store::schema::FILE_SCHEMA;
        for field in MODEL_REF_FIELDS.iter() {
            let column = FILE_SCHEMA.field_with_name(field.name()).expect("a column of the same name");
            assert_eq!(column.data_type(), field.data_type(), "{}", field.name());
            assert_eq!(column.is_nullable(), field.is_nullable(), "{}", field.name());
        }
    }

    #[test]
    fn each_row_is_ingests_normalization() {
        let ids = [
            Some("anthropic.claude-3-5-sonnet-20241022-v2:0"),
            Some(
                "arn:aws:bedrock:eu-west-1:111122223333:inference-profile/eu.anthropic.claude-3-7-sonnet-20250219-v1:0",
            ),
            Some("global.anthropic.claude-sonnet-4-20250514-v1:0"),
            Some("arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/abc123"),
            None,
        ];
        let refs = model_refs(ids.into_iter());
        let refs = refs.as_struct();
        assert_eq!(refs.len(), ids.len());
        let column = |name: &str| refs.column_by_name(name).unwrap().as_string::<i32>().clone();
        let (model, provider, routing, profile) =
            (column("model"), column("provider"), column("routing"), column("inference_profile"));
        for (row, id) in ids.iter().enumerate() {
            let want = id.map(model_id::normalize).unwrap_or_default();
            let got = |a: &StringArray| a.is_valid(row).then(|| a.value(row).to_string());
            assert_eq!(got(&model), want.model, "model of {id:?}");
            assert_eq!(got(&provider), want.provider, "provider of {id:?}");
            assert_eq!(got(&routing).as_deref(), Some(want.routing.as_str()), "routing of {id:?}");
            assert_eq!(got(&profile), want.inference_profile, "profile of {id:?}");
        }
        // The cases are not all alike: the test would pass vacuously if normalize answered None everywhere.
        assert!(model.is_valid(0) && !model.is_valid(3) && !model.is_valid(4));
        assert_eq!(routing.value(4), "unknown");
    }
}
