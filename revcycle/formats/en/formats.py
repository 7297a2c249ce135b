"""One way to write a date on every screen (tables, detail pages, the admin): ISO order,
which reads the same to a US biller and a Kenyan one and sorts as text.
Found through settings.FORMAT_MODULE_PATH; Django's own English formats ("Oct. 1, 2026")
would otherwise win over DATE_FORMAT, as localisation is always on."""

DATE_FORMAT = "Y-m-d"
DATETIME_FORMAT = "Y-m-d H:i"
SHORT_DATE_FORMAT = "Y-m-d"
SHORT_DATETIME_FORMAT = "Y-m-d H:i"
