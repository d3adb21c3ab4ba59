"""Documents made from complaints: the printed 投诉处理单 (PDF), the 台帐 export (CSV / Excel)
and their Chinese labels. Pure rendering: the callers load the rows."""
