-- Tagged as_of: computed as of var as_of, so rebuild all of tag:as_of together when the date changes.
{{ config(tags=['as_of']) }}
-- 镇街月度考核: one row per town for the month of the as-of date (macros/assessment.sql).
{{ assessment_monthly('town', ['readiness', 'overdue_dangers', 'long_overdue_dangers', 'grid_coverage',
                               'event_on_time', 'event_returns', 'drills', 'team_compliance']) }}
