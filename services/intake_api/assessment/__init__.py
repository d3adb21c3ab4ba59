"""`/api/v1/assessment`: the assessment ledger (考核台账, seed 002 §5.4) and its statement."""
