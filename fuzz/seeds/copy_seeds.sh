#!/bin/sh
# Copy the seeds that already exist in the repository into fuzz/corpus/<target>/ (run from fuzz/).
set -e
c=corpus
mkdir -p $c/fasta $c/table $c/parquet $c/config_json $c/experiment_toml
cp ../tests/fixtures/benchmarks/tiny_ref.fa $c/fasta/tiny_ref.fa
cp ../tests/fixtures/benchmarks/tiny_gb/train/negative.csv $c/table/tiny_gb_negative.csv
cp ../tests/fixtures/benchmarks/tiny_gb/test/positive.csv.gz $c/table/tiny_gb_positive.csv.gz
for f in columns list ragged dup; do cp ../tests/fixtures/mmidas/$f.parquet $c/parquet/$f.parquet; done
cp ../tests/fixtures/fuzz/parquet_thrift_skip_bool_list.parquet $c/parquet/thrift_skip_bool_list.parquet
for d in hf_tied hf_olmo_rms_untied hf_olmo_ln_tied; do cp ../tests/fixtures/parity/$d/config.json $c/config_json/$d.json; done
for e in quickstart mmidas_mnist vqvae_mnist nontata_single dna2func gb_suite_demo needle_in_dna omni_dna_20m_markers mnist_classifier nontata_kmer_baseline; do
  cp ../experiments/$e.toml $c/experiment_toml/$e.toml
done
