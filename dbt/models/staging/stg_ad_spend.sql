{#- Thin view on the validated ad spend: one row per (spend_date, campaign_id, ad_id) as the ad
    platforms report it. The platforms' impressions and clicks are kept as reported_*; the marts
    count impressions and clicks from the ad events themselves. -#}
select
    spend_date,
    campaign_id,
    ad_id,
    impressions as reported_impressions,
    clicks as reported_clicks,
    spend,
    coalesce(currency, 'USD') as currency
from {{ source('lake', 'ad_spend') }}
