"""Tests of the enrichment stages: geoip, anonymize, parse, lookup, dedup."""
