-- The Provisioned Throughput prices of one model (`pricing show`): USD per model-unit hour by commitment, with
-- the model unit's capacity where AWS publishes it.
-- Parameters: $model (a normalized base model id).
-- Columns: model, region, commitment, price_per_mu_hour, input_tpm_per_mu, output_tpm_per_mu, source, as_of.
SELECT model, region, commitment, price_per_mu_hour, input_tpm_per_mu, output_tpm_per_mu, source, as_of
FROM provisioned_prices
WHERE model = $model
ORDER BY region, commitment
