-- Tagged as_of: computed as of var as_of, so rebuild all of tag:as_of together when the date changes.
{{ config(tags=['as_of']) }}
-- 部门月度考核: one row per district department for the month of the as-of date (macros/assessment.sql).
{{ assessment_monthly('department', ['overdue_dangers', 'long_overdue_dangers', 'event_on_time', 'event_returns',
                                     'team_compliance', 'data_quality', 'chain_breaks']) }}
