SELECT event_id, event_type, event_time, user_id, session_id, page, product_id, category, brand, price, quantity, order_id, discount_code, discount_amount, currency, device_type, browser, country, referrer, user_type, campaign_id, ad_id, schema_version, event_hour, extra_fields, landing_hour AS _landing_hour, source_file AS _source_file, line_number AS _line_number
        FROM (SELECT * FROM classified) AS c
        WHERE reason IS NULL
        QUALIFY row_number() OVER (
            PARTITION BY event_hour, event_id ORDER BY landing_hour, source_file, line_number
        ) = 1
