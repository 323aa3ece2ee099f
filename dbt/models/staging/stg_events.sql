{#- Thin typed view on the cleaned layer: renames nothing, adds the calendar columns and the funnel
    step every downstream model needs. A view costs nothing to build; fct_events reads it with the
    rebuild window pushed down onto event_hour, or only the lake part files it has not loaded yet
    (_lake_part, the file each row came from; macros/increment.sql). -#}
select
    event_id,
    event_type,
    event_time,
    cast(event_time as date) as event_date,
    event_hour,
    user_id,
    session_id,
    page,
    product_id,
    category,
    brand,
    price,
    quantity,
    order_id,
    discount_code,
    discount_amount,
    coalesce(currency, 'USD') as currency,
    device_type,
    browser,
    country,
    referrer,
    user_type,
    campaign_id,
    ad_id,
    coalesce(schema_version, 1) as schema_version,
    {{ funnel_step_index('event_type') }} as funnel_step,
    _lake_part
from {{ source('lake', 'cleaned_events') }}
