"""The reports' formats (统计分析, SPEC §6): the data model the API answers with as JSON, and the
document made from it as CSV, an Excel workbook with native charts and a self-contained chart
page. Pure: no database, no clock (assembly is `shared.application.reports`)."""
