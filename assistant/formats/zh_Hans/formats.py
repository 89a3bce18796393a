# Django leaves Chinese numbers ungrouped; Chinese software groups them by thousands with commas
# (200,000), which reads faster in quotas and token counts. Dates stay Django's: 2026年12月5日.
THOUSAND_SEPARATOR = ","
NUMBER_GROUPING = 3
