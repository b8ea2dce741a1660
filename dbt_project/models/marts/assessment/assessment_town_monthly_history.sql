-- 镇街月度考核（历月）: the months kept by the monthly assessment asset, with the live build's month (macros/assessment.sql).
{{ assessment_history('assessment_town_monthly', 'town_monthly') }}
