"""`/api/v1/reports`: the weekly and monthly reports and their downloads (统计分析, SPEC §6)."""
