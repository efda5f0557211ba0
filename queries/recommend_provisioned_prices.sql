-- Every Provisioned Throughput price in the book, for the recommender's break-even: USD per model-unit hour by
-- commitment, with the model unit's capacity where it is known.
-- Parameters: none.
-- Columns: model, region (a Region or *), commitment (none, 1-month, 6-month), price_per_mu_hour,
--   input_tpm_per_mu, output_tpm_per_mu (NULL where AWS does not publish it).
SELECT model, region, commitment, price_per_mu_hour, input_tpm_per_mu, output_tpm_per_mu
FROM provisioned_prices
ORDER BY model, region, commitment
