SELECT event_hour, landing_hour, source_file, line_number, event_id, event_type, event_time, user_id, session_id, page, product_id, category, brand, price, quantity, order_id, discount_code, discount_amount, currency, device_type, browser, country, referrer, user_type, campaign_id, ad_id, schema_version, extra_fields, reason,
               CASE WHEN reason IS NOT NULL THEN detail END AS detail,
               CASE WHEN reason IS NOT NULL THEN line END AS line,
               CASE WHEN reason IS NOT NULL THEN raw_bytes END AS raw_bytes
        FROM (
        SELECT * EXCLUDE (_rule, _missing_field, _wrong_type, _missing_for_type, _bad_value), CASE WHEN is_valid THEN NULL ELSE coalesce(['unsupported_file', 'unreadable_file', 'oversized', 'invalid_utf8', 'invalid_json', 'invalid_json', 'missing_required_field', 'invalid_type', 'unsupported_schema_version', 'unknown_event_type', 'missing_required_field', 'invalid_timestamp', 'invalid_value', 'negative_price', 'invalid_quantity', 'before_start_date', 'future_timestamp', 'late_beyond_lookback'][_rule], 'invalid_value') END AS reason, CASE _rule
          WHEN 1 THEN line
          WHEN 2 THEN line
          WHEN 3 THEN 'line of ' || strlen(line) || ' bytes (max 65536)'
          WHEN 4 THEN 'line is not valid UTF-8'
          WHEN 5 THEN CASE WHEN line = '' THEN 'empty line' WHEN try_cast(line AS JSON) IS NULL THEN 'not JSON' ELSE 'JSON value is not an object' END
          WHEN 6 THEN 'key ' || (list_filter(keys, lambda k, i: list_contains(['event_id', 'event_type', 'event_time', 'user_id', 'session_id', 'page', 'product_id', 'category', 'brand', 'price', 'quantity', 'order_id', 'discount_code', 'discount_amount', 'currency', 'device_type', 'browser', 'country', 'referrer', 'user_type', 'campaign_id', 'ad_id', 'schema_version'], k) AND list_position(keys, k) < i))[1] || ' appears more than once'
          WHEN 7 THEN _missing_field
          WHEN 8 THEN _wrong_type
          WHEN 9 THEN 'schema_version ' || v_schema_version
          WHEN 10 THEN v_event_type
          WHEN 11 THEN _missing_for_type
          WHEN 12 THEN v_event_time
          WHEN 13 THEN _bad_value
          WHEN 14 THEN CAST(price AS VARCHAR)
          WHEN 15 THEN CAST(quantity AS VARCHAR)
          WHEN 16 THEN 'event_time ' || CAST(event_time AS VARCHAR) || ' is before SHOPPER_START_DATE, 2026-01-01'
          WHEN 17 THEN 'event_time ' || CAST(event_time AS VARCHAR) || ' is after the hour it was delivered in'
          WHEN 18 THEN 'event_time ' || CAST(event_time AS VARCHAR) || ' arrived after the late-arrival window'
        END AS detail
        FROM (
            SELECT *, CASE WHEN is_valid THEN NULL ELSE CASE
          WHEN line_number = 0 AND NOT (ends_with(source_file, '.jsonl.gz') OR ends_with(source_file, '.jsonl')) THEN 1
          WHEN line_number = 0 THEN 2
          WHEN strlen(line) > 65536 THEN 3
          WHEN raw_bytes IS NOT NULL THEN 4
          WHEN NOT is_object THEN 5
          WHEN repeated_field THEN 6
          WHEN _missing_field IS NOT NULL THEN 7
          WHEN _wrong_type IS NOT NULL THEN 8
          WHEN coalesce(j_schema_version, 'null') <> 'null' AND v_schema_version <> '1' THEN 9
          WHEN v_event_type NOT IN ('page_view', 'product_view', 'add_to_cart', 'remove_from_cart', 'checkout', 'purchase', 'ad_impression', 'ad_click') THEN 10
          WHEN _missing_for_type IS NOT NULL THEN 11
          WHEN event_time IS NULL THEN 12
          WHEN _bad_value IS NOT NULL THEN 13
          WHEN price < 0 THEN 14
          WHEN quantity < 1 THEN 15
          WHEN event_time < TIMESTAMP '2026-01-01 00:00:00' THEN 16
          WHEN date_trunc('hour', event_time) > event_hour THEN 17
          WHEN date_trunc('hour', event_time) < event_hour THEN 18
        END END AS _rule
            FROM (
                SELECT *, CASE WHEN is_valid THEN NULL ELSE CASE WHEN NOT coalesce(j_event_id, 'null') <> 'null' THEN 'event_id'
            WHEN NOT coalesce(j_event_type, 'null') <> 'null' THEN 'event_type'
            WHEN NOT coalesce(j_event_time, 'null') <> 'null' THEN 'event_time'
            WHEN NOT coalesce(j_user_id, 'null') <> 'null' THEN 'user_id'
            WHEN NOT coalesce(j_session_id, 'null') <> 'null' THEN 'session_id'
            WHEN NOT coalesce(j_page, 'null') <> 'null' THEN 'page'
            WHEN NOT coalesce(j_device_type, 'null') <> 'null' THEN 'device_type'
            WHEN NOT coalesce(j_referrer, 'null') <> 'null' THEN 'referrer'
            WHEN NOT coalesce(j_user_type, 'null') <> 'null' THEN 'user_type' END END AS _missing_field,
                   CASE WHEN is_valid THEN NULL ELSE CASE WHEN coalesce(j_event_id, 'null') <> 'null' AND (CASE WHEN j_event_id IS NULL THEN NULL
        WHEN starts_with(j_event_id, '"') THEN 'VARCHAR'
        WHEN j_event_id = 'null' THEN 'NULL'
        WHEN starts_with(j_event_id, '{') THEN 'OBJECT'
        WHEN starts_with(j_event_id, '[') THEN 'ARRAY'
        WHEN j_event_id IN ('true', 'false') THEN 'BOOLEAN'
        WHEN regexp_full_match(j_event_id, '-?[0-9]+') THEN 'BIGINT'
        ELSE 'DOUBLE' END) NOT IN ('VARCHAR') THEN 'event_id'
            WHEN coalesce(j_event_type, 'null') <> 'null' AND (CASE WHEN j_event_type IS NULL THEN NULL
        WHEN starts_with(j_event_type, '"') THEN 'VARCHAR'
        WHEN j_event_type = 'null' THEN 'NULL'
        WHEN starts_with(j_event_type, '{') THEN 'OBJECT'
        WHEN starts_with(j_event_type, '[') THEN 'ARRAY'
        WHEN j_event_type IN ('true', 'false') THEN 'BOOLEAN'
        WHEN regexp_full_match(j_event_type, '-?[0-9]+') THEN 'BIGINT'
        ELSE 'DOUBLE' END) NOT IN ('VARCHAR') THEN 'event_type'
            WHEN coalesce(j_event_time, 'null') <> 'null' AND (CASE WHEN j_event_time IS NULL THEN NULL
        WHEN starts_with(j_event_time, '"') THEN 'VARCHAR'
        WHEN j_event_time = 'null' THEN 'NULL'
        WHEN starts_with(j_event_time, '{') THEN 'OBJECT'
        WHEN starts_with(j_event_time, '[') THEN 'ARRAY'
        WHEN j_event_time IN ('true', 'false') THEN 'BOOLEAN'
        WHEN regexp_full_match(j_event_time, '-?[0-9]+') THEN 'BIGINT'
        ELSE 'DOUBLE' END) NOT IN ('VARCHAR') THEN 'event_time'
            WHEN coalesce(j_user_id, 'null') <> 'null' AND (CASE WHEN j_user_id IS NULL THEN NULL
        WHEN starts_with(j_user_id, '"') THEN 'VARCHAR'
        WHEN j_user_id = 'null' THEN 'NULL'
        WHEN starts_with(j_user_id, '{') THEN 'OBJECT'
        WHEN starts_with(j_user_id, '[') THEN 'ARRAY'
        WHEN j_user_id IN ('true', 'false') THEN 'BOOLEAN'
        WHEN regexp_full_match(j_user_id, '-?[0-9]+') THEN 'BIGINT'
        ELSE 'DOUBLE' END) NOT IN ('VARCHAR') THEN 'user_id'
            WHEN coalesce(j_session_id, 'null') <> 'null' AND (CASE WHEN j_session_id IS NULL THEN NULL
        WHEN starts_with(j_session_id, '"') THEN 'VARCHAR'
        WHEN j_session_id = 'null' THEN 'NULL'
        WHEN starts_with(j_session_id, '{') THEN 'OBJECT'
        WHEN starts_with(j_session_id, '[') THEN 'ARRAY'
        WHEN j_session_id IN ('true', 'false') THEN 'BOOLEAN'
        WHEN regexp_full_match(j_session_id, '-?[0-9]+') THEN 'BIGINT'
        ELSE 'DOUBLE' END) NOT IN ('VARCHAR') THEN 'session_id'
            WHEN coalesce(j_page, 'null') <> 'null' AND (CASE WHEN j_page IS NULL THEN NULL
        WHEN starts_with(j_page, '"') THEN 'VARCHAR'
        WHEN j_page = 'null' THEN 'NULL'
        WHEN starts_with(j_page, '{') THEN 'OBJECT'
        WHEN starts_with(j_page, '[') THEN 'ARRAY'
        WHEN j_page IN ('true', 'false') THEN 'BOOLEAN'
        WHEN regexp_full_match(j_page, '-?[0-9]+') THEN 'BIGINT'
        ELSE 'DOUBLE' END) NOT IN ('VARCHAR') THEN 'page'
            WHEN coalesce(j_product_id, 'null') <> 'null' AND (CASE WHEN j_product_id IS NULL THEN NULL
        WHEN starts_with(j_product_id, '"') THEN 'VARCHAR'
        WHEN j_product_id = 'null' THEN 'NULL'
        WHEN starts_with(j_product_id, '{') THEN 'OBJECT'
        WHEN starts_with(j_product_id, '[') THEN 'ARRAY'
        WHEN j_product_id IN ('true', 'false') THEN 'BOOLEAN'
        WHEN regexp_full_match(j_product_id, '-?[0-9]+') THEN 'BIGINT'
        ELSE 'DOUBLE' END) NOT IN ('VARCHAR') THEN 'product_id'
            WHEN coalesce(j_category, 'null') <> 'null' AND (CASE WHEN j_category IS NULL THEN NULL
        WHEN starts_with(j_category, '"') THEN 'VARCHAR'
        WHEN j_category = 'null' THEN 'NULL'
        WHEN starts_with(j_category, '{') THEN 'OBJECT'
        WHEN starts_with(j_category, '[') THEN 'ARRAY'
        WHEN j_category IN ('true', 'false') THEN 'BOOLEAN'
        WHEN regexp_full_match(j_category, '-?[0-9]+') THEN 'BIGINT'
        ELSE 'DOUBLE' END) NOT IN ('VARCHAR') THEN 'category'
            WHEN coalesce(j_brand, 'null') <> 'null' AND (CASE WHEN j_brand IS NULL THEN NULL
        WHEN starts_with(j_brand, '"') THEN 'VARCHAR'
        WHEN j_brand = 'null' THEN 'NULL'
        WHEN starts_with(j_brand, '{') THEN 'OBJECT'
        WHEN starts_with(j_brand, '[') THEN 'ARRAY'
        WHEN j_brand IN ('true', 'false') THEN 'BOOLEAN'
        WHEN regexp_full_match(j_brand, '-?[0-9]+') THEN 'BIGINT'
        ELSE 'DOUBLE' END) NOT IN ('VARCHAR') THEN 'brand'
            WHEN coalesce(j_price, 'null') <> 'null' AND (CASE WHEN j_price IS NULL THEN NULL
        WHEN starts_with(j_price, '"') THEN 'VARCHAR'
        WHEN j_price = 'null' THEN 'NULL'
        WHEN starts_with(j_price, '{') THEN 'OBJECT'
        WHEN starts_with(j_price, '[') THEN 'ARRAY'
        WHEN j_price IN ('true', 'false') THEN 'BOOLEAN'
        WHEN regexp_full_match(j_price, '-?[0-9]+') THEN 'BIGINT'
        ELSE 'DOUBLE' END) NOT IN ('BIGINT', 'DOUBLE') THEN 'price'
            WHEN coalesce(j_quantity, 'null') <> 'null' AND (CASE WHEN j_quantity IS NULL THEN NULL
        WHEN starts_with(j_quantity, '"') THEN 'VARCHAR'
        WHEN j_quantity = 'null' THEN 'NULL'
        WHEN starts_with(j_quantity, '{') THEN 'OBJECT'
        WHEN starts_with(j_quantity, '[') THEN 'ARRAY'
        WHEN j_quantity IN ('true', 'false') THEN 'BOOLEAN'
        WHEN regexp_full_match(j_quantity, '-?[0-9]+') THEN 'BIGINT'
        ELSE 'DOUBLE' END) NOT IN ('BIGINT') THEN 'quantity'
            WHEN coalesce(j_order_id, 'null') <> 'null' AND (CASE WHEN j_order_id IS NULL THEN NULL
        WHEN starts_with(j_order_id, '"') THEN 'VARCHAR'
        WHEN j_order_id = 'null' THEN 'NULL'
        WHEN starts_with(j_order_id, '{') THEN 'OBJECT'
        WHEN starts_with(j_order_id, '[') THEN 'ARRAY'
        WHEN j_order_id IN ('true', 'false') THEN 'BOOLEAN'
        WHEN regexp_full_match(j_order_id, '-?[0-9]+') THEN 'BIGINT'
        ELSE 'DOUBLE' END) NOT IN ('VARCHAR') THEN 'order_id'
            WHEN coalesce(j_discount_code, 'null') <> 'null' AND (CASE WHEN j_discount_code IS NULL THEN NULL
        WHEN starts_with(j_discount_code, '"') THEN 'VARCHAR'
        WHEN j_discount_code = 'null' THEN 'NULL'
        WHEN starts_with(j_discount_code, '{') THEN 'OBJECT'
        WHEN starts_with(j_discount_code, '[') THEN 'ARRAY'
        WHEN j_discount_code IN ('true', 'false') THEN 'BOOLEAN'
        WHEN regexp_full_match(j_discount_code, '-?[0-9]+') THEN 'BIGINT'
        ELSE 'DOUBLE' END) NOT IN ('VARCHAR') THEN 'discount_code'
            WHEN coalesce(j_discount_amount, 'null') <> 'null' AND (CASE WHEN j_discount_amount IS NULL THEN NULL
        WHEN starts_with(j_discount_amount, '"') THEN 'VARCHAR'
        WHEN j_discount_amount = 'null' THEN 'NULL'
        WHEN starts_with(j_discount_amount, '{') THEN 'OBJECT'
        WHEN starts_with(j_discount_amount, '[') THEN 'ARRAY'
        WHEN j_discount_amount IN ('true', 'false') THEN 'BOOLEAN'
        WHEN regexp_full_match(j_discount_amount, '-?[0-9]+') THEN 'BIGINT'
        ELSE 'DOUBLE' END) NOT IN ('BIGINT', 'DOUBLE') THEN 'discount_amount'
            WHEN coalesce(j_currency, 'null') <> 'null' AND (CASE WHEN j_currency IS NULL THEN NULL
        WHEN starts_with(j_currency, '"') THEN 'VARCHAR'
        WHEN j_currency = 'null' THEN 'NULL'
        WHEN starts_with(j_currency, '{') THEN 'OBJECT'
        WHEN starts_with(j_currency, '[') THEN 'ARRAY'
        WHEN j_currency IN ('true', 'false') THEN 'BOOLEAN'
        WHEN regexp_full_match(j_currency, '-?[0-9]+') THEN 'BIGINT'
        ELSE 'DOUBLE' END) NOT IN ('VARCHAR') THEN 'currency'
            WHEN coalesce(j_device_type, 'null') <> 'null' AND (CASE WHEN j_device_type IS NULL THEN NULL
        WHEN starts_with(j_device_type, '"') THEN 'VARCHAR'
        WHEN j_device_type = 'null' THEN 'NULL'
        WHEN starts_with(j_device_type, '{') THEN 'OBJECT'
        WHEN starts_with(j_device_type, '[') THEN 'ARRAY'
        WHEN j_device_type IN ('true', 'false') THEN 'BOOLEAN'
        WHEN regexp_full_match(j_device_type, '-?[0-9]+') THEN 'BIGINT'
        ELSE 'DOUBLE' END) NOT IN ('VARCHAR') THEN 'device_type'
            WHEN coalesce(j_browser, 'null') <> 'null' AND (CASE WHEN j_browser IS NULL THEN NULL
        WHEN starts_with(j_browser, '"') THEN 'VARCHAR'
        WHEN j_browser = 'null' THEN 'NULL'
        WHEN starts_with(j_browser, '{') THEN 'OBJECT'
        WHEN starts_with(j_browser, '[') THEN 'ARRAY'
        WHEN j_browser IN ('true', 'false') THEN 'BOOLEAN'
        WHEN regexp_full_match(j_browser, '-?[0-9]+') THEN 'BIGINT'
        ELSE 'DOUBLE' END) NOT IN ('VARCHAR') THEN 'browser'
            WHEN coalesce(j_country, 'null') <> 'null' AND (CASE WHEN j_country IS NULL THEN NULL
        WHEN starts_with(j_country, '"') THEN 'VARCHAR'
        WHEN j_country = 'null' THEN 'NULL'
        WHEN starts_with(j_country, '{') THEN 'OBJECT'
        WHEN starts_with(j_country, '[') THEN 'ARRAY'
        WHEN j_country IN ('true', 'false') THEN 'BOOLEAN'
        WHEN regexp_full_match(j_country, '-?[0-9]+') THEN 'BIGINT'
        ELSE 'DOUBLE' END) NOT IN ('VARCHAR') THEN 'country'
            WHEN coalesce(j_referrer, 'null') <> 'null' AND (CASE WHEN j_referrer IS NULL THEN NULL
        WHEN starts_with(j_referrer, '"') THEN 'VARCHAR'
        WHEN j_referrer = 'null' THEN 'NULL'
        WHEN starts_with(j_referrer, '{') THEN 'OBJECT'
        WHEN starts_with(j_referrer, '[') THEN 'ARRAY'
        WHEN j_referrer IN ('true', 'false') THEN 'BOOLEAN'
        WHEN regexp_full_match(j_referrer, '-?[0-9]+') THEN 'BIGINT'
        ELSE 'DOUBLE' END) NOT IN ('VARCHAR') THEN 'referrer'
            WHEN coalesce(j_user_type, 'null') <> 'null' AND (CASE WHEN j_user_type IS NULL THEN NULL
        WHEN starts_with(j_user_type, '"') THEN 'VARCHAR'
        WHEN j_user_type = 'null' THEN 'NULL'
        WHEN starts_with(j_user_type, '{') THEN 'OBJECT'
        WHEN starts_with(j_user_type, '[') THEN 'ARRAY'
        WHEN j_user_type IN ('true', 'false') THEN 'BOOLEAN'
        WHEN regexp_full_match(j_user_type, '-?[0-9]+') THEN 'BIGINT'
        ELSE 'DOUBLE' END) NOT IN ('VARCHAR') THEN 'user_type'
            WHEN coalesce(j_campaign_id, 'null') <> 'null' AND (CASE WHEN j_campaign_id IS NULL THEN NULL
        WHEN starts_with(j_campaign_id, '"') THEN 'VARCHAR'
        WHEN j_campaign_id = 'null' THEN 'NULL'
        WHEN starts_with(j_campaign_id, '{') THEN 'OBJECT'
        WHEN starts_with(j_campaign_id, '[') THEN 'ARRAY'
        WHEN j_campaign_id IN ('true', 'false') THEN 'BOOLEAN'
        WHEN regexp_full_match(j_campaign_id, '-?[0-9]+') THEN 'BIGINT'
        ELSE 'DOUBLE' END) NOT IN ('VARCHAR') THEN 'campaign_id'
            WHEN coalesce(j_ad_id, 'null') <> 'null' AND (CASE WHEN j_ad_id IS NULL THEN NULL
        WHEN starts_with(j_ad_id, '"') THEN 'VARCHAR'
        WHEN j_ad_id = 'null' THEN 'NULL'
        WHEN starts_with(j_ad_id, '{') THEN 'OBJECT'
        WHEN starts_with(j_ad_id, '[') THEN 'ARRAY'
        WHEN j_ad_id IN ('true', 'false') THEN 'BOOLEAN'
        WHEN regexp_full_match(j_ad_id, '-?[0-9]+') THEN 'BIGINT'
        ELSE 'DOUBLE' END) NOT IN ('VARCHAR') THEN 'ad_id'
            WHEN coalesce(j_schema_version, 'null') <> 'null' AND (CASE WHEN j_schema_version IS NULL THEN NULL
        WHEN starts_with(j_schema_version, '"') THEN 'VARCHAR'
        WHEN j_schema_version = 'null' THEN 'NULL'
        WHEN starts_with(j_schema_version, '{') THEN 'OBJECT'
        WHEN starts_with(j_schema_version, '[') THEN 'ARRAY'
        WHEN j_schema_version IN ('true', 'false') THEN 'BOOLEAN'
        WHEN regexp_full_match(j_schema_version, '-?[0-9]+') THEN 'BIGINT'
        ELSE 'DOUBLE' END) NOT IN ('BIGINT') THEN 'schema_version' END END AS _wrong_type,
                   CASE WHEN is_valid THEN NULL ELSE CASE WHEN v_event_type IN ('add_to_cart', 'product_view', 'purchase', 'remove_from_cart') AND NOT coalesce(j_product_id, 'null') <> 'null' THEN 'product_id'
            WHEN v_event_type IN ('add_to_cart', 'product_view', 'purchase', 'remove_from_cart') AND NOT coalesce(j_category, 'null') <> 'null' THEN 'category'
            WHEN v_event_type IN ('add_to_cart', 'product_view', 'purchase', 'remove_from_cart') AND NOT coalesce(j_price, 'null') <> 'null' THEN 'price'
            WHEN v_event_type IN ('add_to_cart', 'purchase', 'remove_from_cart') AND NOT coalesce(j_quantity, 'null') <> 'null' THEN 'quantity'
            WHEN v_event_type IN ('checkout', 'purchase') AND NOT coalesce(j_order_id, 'null') <> 'null' THEN 'order_id'
            WHEN v_event_type IN ('ad_click', 'ad_impression') AND NOT coalesce(j_campaign_id, 'null') <> 'null' THEN 'campaign_id'
            WHEN v_event_type IN ('ad_click', 'ad_impression') AND NOT coalesce(j_ad_id, 'null') <> 'null' THEN 'ad_id' END END AS _missing_for_type,
                   CASE WHEN is_valid THEN NULL ELSE CASE WHEN coalesce(j_page, 'null') <> 'null' AND v_page NOT IN ('home', 'search', 'category', 'product', 'cart', 'checkout', 'confirmation') THEN 'page'
            WHEN coalesce(j_device_type, 'null') <> 'null' AND v_device_type NOT IN ('mobile', 'desktop', 'tablet') THEN 'device_type'
            WHEN coalesce(j_referrer, 'null') <> 'null' AND v_referrer NOT IN ('direct', 'search', 'social', 'email', 'ads', 'affiliate') THEN 'referrer'
            WHEN coalesce(j_user_type, 'null') <> 'null' AND v_user_type NOT IN ('new', 'returning') THEN 'user_type'
            WHEN coalesce(j_price, 'null') <> 'null' AND price IS NULL THEN 'price out of range'
            WHEN coalesce(j_quantity, 'null') <> 'null' AND quantity IS NULL THEN 'quantity out of range'
            WHEN coalesce(j_discount_amount, 'null') <> 'null' AND discount_amount IS NULL THEN 'discount_amount out of range'
            WHEN coalesce(j_schema_version, 'null') <> 'null' AND schema_version IS NULL THEN 'schema_version out of range'
            WHEN coalesce(j_currency, 'null') <> 'null' AND NOT regexp_full_match(v_currency, '[A-Z]{3}') THEN 'currency'
            WHEN coalesce(j_price, 'null') <> 'null' AND NOT coalesce(try_cast(v_price AS DECIMAL(38, 10)) = price, false) THEN 'price has more than 2 decimals'
            WHEN coalesce(j_discount_amount, 'null') <> 'null' AND (discount_amount < 0 OR NOT coalesce(try_cast(v_discount_amount AS DECIMAL(38, 10)) = discount_amount, false)) THEN 'discount_amount'
            WHEN coalesce(j_event_id, 'null') <> 'null' AND regexp_full_match(v_event_id, '[\s\p{Z}]*') THEN 'event_id is blank'
            WHEN coalesce(j_user_id, 'null') <> 'null' AND regexp_full_match(v_user_id, '[\s\p{Z}]*') THEN 'user_id is blank'
            WHEN coalesce(j_session_id, 'null') <> 'null' AND regexp_full_match(v_session_id, '[\s\p{Z}]*') THEN 'session_id is blank'
            WHEN coalesce(j_product_id, 'null') <> 'null' AND regexp_full_match(v_product_id, '[\s\p{Z}]*') THEN 'product_id is blank'
            WHEN coalesce(j_order_id, 'null') <> 'null' AND regexp_full_match(v_order_id, '[\s\p{Z}]*') THEN 'order_id is blank'
            WHEN coalesce(j_campaign_id, 'null') <> 'null' AND regexp_full_match(v_campaign_id, '[\s\p{Z}]*') THEN 'campaign_id is blank'
            WHEN coalesce(j_ad_id, 'null') <> 'null' AND regexp_full_match(v_ad_id, '[\s\p{Z}]*') THEN 'ad_id is blank'
            WHEN coalesce(j_event_id, 'null') <> 'null' AND contains(v_event_id, chr(0)) THEN 'event_id holds a NUL character (U+0000)'
            WHEN coalesce(j_event_type, 'null') <> 'null' AND contains(v_event_type, chr(0)) THEN 'event_type holds a NUL character (U+0000)'
            WHEN coalesce(j_event_time, 'null') <> 'null' AND contains(v_event_time, chr(0)) THEN 'event_time holds a NUL character (U+0000)'
            WHEN coalesce(j_user_id, 'null') <> 'null' AND contains(v_user_id, chr(0)) THEN 'user_id holds a NUL character (U+0000)'
            WHEN coalesce(j_session_id, 'null') <> 'null' AND contains(v_session_id, chr(0)) THEN 'session_id holds a NUL character (U+0000)'
            WHEN coalesce(j_page, 'null') <> 'null' AND contains(v_page, chr(0)) THEN 'page holds a NUL character (U+0000)'
            WHEN coalesce(j_product_id, 'null') <> 'null' AND contains(v_product_id, chr(0)) THEN 'product_id holds a NUL character (U+0000)'
            WHEN coalesce(j_category, 'null') <> 'null' AND contains(v_category, chr(0)) THEN 'category holds a NUL character (U+0000)'
            WHEN coalesce(j_brand, 'null') <> 'null' AND contains(v_brand, chr(0)) THEN 'brand holds a NUL character (U+0000)'
            WHEN coalesce(j_order_id, 'null') <> 'null' AND contains(v_order_id, chr(0)) THEN 'order_id holds a NUL character (U+0000)'
            WHEN coalesce(j_discount_code, 'null') <> 'null' AND contains(v_discount_code, chr(0)) THEN 'discount_code holds a NUL character (U+0000)'
            WHEN coalesce(j_currency, 'null') <> 'null' AND contains(v_currency, chr(0)) THEN 'currency holds a NUL character (U+0000)'
            WHEN coalesce(j_device_type, 'null') <> 'null' AND contains(v_device_type, chr(0)) THEN 'device_type holds a NUL character (U+0000)'
            WHEN coalesce(j_browser, 'null') <> 'null' AND contains(v_browser, chr(0)) THEN 'browser holds a NUL character (U+0000)'
            WHEN coalesce(j_country, 'null') <> 'null' AND contains(v_country, chr(0)) THEN 'country holds a NUL character (U+0000)'
            WHEN coalesce(j_referrer, 'null') <> 'null' AND contains(v_referrer, chr(0)) THEN 'referrer holds a NUL character (U+0000)'
            WHEN coalesce(j_user_type, 'null') <> 'null' AND contains(v_user_type, chr(0)) THEN 'user_type holds a NUL character (U+0000)'
            WHEN coalesce(j_campaign_id, 'null') <> 'null' AND contains(v_campaign_id, chr(0)) THEN 'campaign_id holds a NUL character (U+0000)'
            WHEN coalesce(j_ad_id, 'null') <> 'null' AND contains(v_ad_id, chr(0)) THEN 'ad_id holds a NUL character (U+0000)' END END AS _bad_value
                FROM (
                    SELECT *, (is_object AND coalesce(starts_with(j_event_id, '"'), false)
        AND coalesce(starts_with(j_event_type, '"'), false)
        AND coalesce(starts_with(j_event_time, '"'), false)
        AND coalesce(starts_with(j_user_id, '"'), false)
        AND coalesce(starts_with(j_session_id, '"'), false)
        AND coalesce(starts_with(j_page, '"'), false)
        AND CASE WHEN v_event_type IN ('add_to_cart', 'product_view', 'purchase', 'remove_from_cart') THEN coalesce(starts_with(j_product_id, '"'), false) ELSE (j_product_id IS NULL OR j_product_id = 'null' OR starts_with(j_product_id, '"')) END
        AND CASE WHEN v_event_type IN ('add_to_cart', 'product_view', 'purchase', 'remove_from_cart') THEN coalesce(starts_with(j_category, '"'), false) ELSE (j_category IS NULL OR j_category = 'null' OR starts_with(j_category, '"')) END
        AND (j_brand IS NULL OR j_brand = 'null' OR starts_with(j_brand, '"'))
        AND CASE WHEN v_event_type IN ('add_to_cart', 'product_view', 'purchase', 'remove_from_cart') THEN coalesce(NOT starts_with(j_price, '"') AND price IS NOT NULL, false) ELSE (j_price IS NULL OR j_price = 'null' OR NOT starts_with(j_price, '"') AND price IS NOT NULL) END
        AND CASE WHEN v_event_type IN ('add_to_cart', 'purchase', 'remove_from_cart') THEN coalesce(NOT starts_with(j_quantity, '"') AND quantity IS NOT NULL AND NOT regexp_matches(j_quantity, '[.eE]'), false) ELSE (j_quantity IS NULL OR j_quantity = 'null' OR NOT starts_with(j_quantity, '"') AND quantity IS NOT NULL AND NOT regexp_matches(j_quantity, '[.eE]')) END
        AND CASE WHEN v_event_type IN ('checkout', 'purchase') THEN coalesce(starts_with(j_order_id, '"'), false) ELSE (j_order_id IS NULL OR j_order_id = 'null' OR starts_with(j_order_id, '"')) END
        AND (j_discount_code IS NULL OR j_discount_code = 'null' OR starts_with(j_discount_code, '"'))
        AND (j_discount_amount IS NULL OR j_discount_amount = 'null' OR NOT starts_with(j_discount_amount, '"') AND discount_amount IS NOT NULL)
        AND (j_currency IS NULL OR j_currency = 'null' OR starts_with(j_currency, '"'))
        AND coalesce(starts_with(j_device_type, '"'), false)
        AND (j_browser IS NULL OR j_browser = 'null' OR starts_with(j_browser, '"'))
        AND (j_country IS NULL OR j_country = 'null' OR starts_with(j_country, '"'))
        AND coalesce(starts_with(j_referrer, '"'), false)
        AND coalesce(starts_with(j_user_type, '"'), false)
        AND CASE WHEN v_event_type IN ('ad_click', 'ad_impression') THEN coalesce(starts_with(j_campaign_id, '"'), false) ELSE (j_campaign_id IS NULL OR j_campaign_id = 'null' OR starts_with(j_campaign_id, '"')) END
        AND CASE WHEN v_event_type IN ('ad_click', 'ad_impression') THEN coalesce(starts_with(j_ad_id, '"'), false) ELSE (j_ad_id IS NULL OR j_ad_id = 'null' OR starts_with(j_ad_id, '"')) END
        AND (j_schema_version IS NULL OR j_schema_version = 'null' OR NOT starts_with(j_schema_version, '"') AND schema_version IS NOT NULL AND NOT regexp_matches(j_schema_version, '[.eE]'))
        AND NOT repeated_field
        AND v_event_type IN ('page_view', 'product_view', 'add_to_cart', 'remove_from_cart', 'checkout', 'purchase', 'ad_impression', 'ad_click')
        AND (v_page IS NULL OR v_page IN ('home', 'search', 'category', 'product', 'cart', 'checkout', 'confirmation'))
        AND (v_device_type IS NULL OR v_device_type IN ('mobile', 'desktop', 'tablet'))
        AND (v_referrer IS NULL OR v_referrer IN ('direct', 'search', 'social', 'email', 'ads', 'affiliate'))
        AND (v_user_type IS NULL OR v_user_type IN ('new', 'returning'))
        AND (v_schema_version IS NULL OR v_schema_version = '1')
        AND (v_currency IS NULL OR v_currency = 'USD' OR regexp_full_match(v_currency, '[A-Z]{3}'))
        AND CASE WHEN v_event_id IS NULL OR unicode(v_event_id) BETWEEN 33 AND 126 THEN true ELSE NOT regexp_full_match(v_event_id, '[\s\p{Z}]*') END
        AND CASE WHEN v_user_id IS NULL OR unicode(v_user_id) BETWEEN 33 AND 126 THEN true ELSE NOT regexp_full_match(v_user_id, '[\s\p{Z}]*') END
        AND CASE WHEN v_session_id IS NULL OR unicode(v_session_id) BETWEEN 33 AND 126 THEN true ELSE NOT regexp_full_match(v_session_id, '[\s\p{Z}]*') END
        AND CASE WHEN v_product_id IS NULL OR unicode(v_product_id) BETWEEN 33 AND 126 THEN true ELSE NOT regexp_full_match(v_product_id, '[\s\p{Z}]*') END
        AND CASE WHEN v_order_id IS NULL OR unicode(v_order_id) BETWEEN 33 AND 126 THEN true ELSE NOT regexp_full_match(v_order_id, '[\s\p{Z}]*') END
        AND CASE WHEN v_campaign_id IS NULL OR unicode(v_campaign_id) BETWEEN 33 AND 126 THEN true ELSE NOT regexp_full_match(v_campaign_id, '[\s\p{Z}]*') END
        AND CASE WHEN v_ad_id IS NULL OR unicode(v_ad_id) BETWEEN 33 AND 126 THEN true ELSE NOT regexp_full_match(v_ad_id, '[\s\p{Z}]*') END
        AND CASE WHEN contains(line, '\u0000') THEN NOT (coalesce(contains(v_event_id, chr(0)), false) OR coalesce(contains(v_event_type, chr(0)), false) OR coalesce(contains(v_event_time, chr(0)), false) OR coalesce(contains(v_user_id, chr(0)), false) OR coalesce(contains(v_session_id, chr(0)), false) OR coalesce(contains(v_page, chr(0)), false) OR coalesce(contains(v_product_id, chr(0)), false) OR coalesce(contains(v_category, chr(0)), false) OR coalesce(contains(v_brand, chr(0)), false) OR coalesce(contains(v_order_id, chr(0)), false) OR coalesce(contains(v_discount_code, chr(0)), false) OR coalesce(contains(v_currency, chr(0)), false) OR coalesce(contains(v_device_type, chr(0)), false) OR coalesce(contains(v_browser, chr(0)), false) OR coalesce(contains(v_country, chr(0)), false) OR coalesce(contains(v_referrer, chr(0)), false) OR coalesce(contains(v_user_type, chr(0)), false) OR coalesce(contains(v_campaign_id, chr(0)), false) OR coalesce(contains(v_ad_id, chr(0)), false)) ELSE true END
        AND event_time IS NOT NULL AND date_trunc('hour', event_time) = event_hour
        AND (price IS NULL OR (price >= 0 AND CASE WHEN regexp_matches(v_price, '[eE]') THEN try_cast(v_price AS DECIMAL(38, 10)) = price
        ELSE strpos(v_price, '.') = 0 OR strlen(v_price) - strpos(v_price, '.') <= 2 END))
        AND coalesce(quantity >= 1, true)
        AND (discount_amount IS NULL OR (discount_amount >= 0 AND CASE WHEN regexp_matches(v_discount_amount, '[eE]') THEN try_cast(v_discount_amount AS DECIMAL(38, 10)) = discount_amount
        ELSE strpos(v_discount_amount, '.') = 0 OR strlen(v_discount_amount) - strpos(v_discount_amount, '.') <= 2 END))) AS is_valid
                    FROM (
                        SELECT p.*,
                           v_event_id AS event_id,
               v_event_type AS event_type,
               CAST(CASE WHEN regexp_full_match(v_event_time, '[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?(Z|[+-][0-9]{2}(:?[0-9]{2})?)') THEN try_cast(v_event_time AS TIMESTAMPTZ) END AS TIMESTAMP) AS event_time,
               v_user_id AS user_id,
               v_session_id AS session_id,
               v_page AS page,
               v_product_id AS product_id,
               v_category AS category,
               v_brand AS brand,
               try_cast(v_price AS DECIMAL(18,2)) AS price,
               try_cast(v_quantity AS INTEGER) AS quantity,
               v_order_id AS order_id,
               v_discount_code AS discount_code,
               try_cast(v_discount_amount AS DECIMAL(18,2)) AS discount_amount,
               coalesce(v_currency, 'USD') AS currency,
               v_device_type AS device_type,
               v_browser AS browser,
               v_country AS country,
               v_referrer AS referrer,
               v_user_type AS user_type,
               v_campaign_id AS campaign_id,
               v_ad_id AS ad_id,
               coalesce(try_cast(v_schema_version AS INTEGER), 1) AS schema_version,
               CASE WHEN is_object AND n_extra > 0 THEN CAST(json_remove(json_remove(json_remove(json_remove(json_remove(json_remove(json_remove(json_remove(json_remove(json_remove(json_remove(json_remove(json_remove(json_remove(json_remove(json_remove(json_remove(json_remove(json_remove(json_remove(json_remove(json_remove(json_remove(line, '$."event_id"'), '$."event_type"'), '$."event_time"'), '$."user_id"'), '$."session_id"'), '$."page"'), '$."product_id"'), '$."category"'), '$."brand"'), '$."price"'), '$."quantity"'), '$."order_id"'), '$."discount_code"'), '$."discount_amount"'), '$."currency"'), '$."device_type"'), '$."browser"'), '$."country"'), '$."referrer"'), '$."user_type"'), '$."campaign_id"'), '$."ad_id"'), '$."schema_version"') AS VARCHAR) END AS extra_fields
                        FROM (
        SELECT * EXCLUDE (f, s, n_present), CAST(f[1] AS VARCHAR) AS j_event_id, s[1] AS v_event_id,
               CAST(f[2] AS VARCHAR) AS j_event_type, s[2] AS v_event_type,
               CAST(f[3] AS VARCHAR) AS j_event_time, s[3] AS v_event_time,
               CAST(f[4] AS VARCHAR) AS j_user_id, s[4] AS v_user_id,
               CAST(f[5] AS VARCHAR) AS j_session_id, s[5] AS v_session_id,
               CAST(f[6] AS VARCHAR) AS j_page, s[6] AS v_page,
               CAST(f[7] AS VARCHAR) AS j_product_id, s[7] AS v_product_id,
               CAST(f[8] AS VARCHAR) AS j_category, s[8] AS v_category,
               CAST(f[9] AS VARCHAR) AS j_brand, s[9] AS v_brand,
               CAST(f[10] AS VARCHAR) AS j_price, s[10] AS v_price,
               CAST(f[11] AS VARCHAR) AS j_quantity, s[11] AS v_quantity,
               CAST(f[12] AS VARCHAR) AS j_order_id, s[12] AS v_order_id,
               CAST(f[13] AS VARCHAR) AS j_discount_code, s[13] AS v_discount_code,
               CAST(f[14] AS VARCHAR) AS j_discount_amount, s[14] AS v_discount_amount,
               CAST(f[15] AS VARCHAR) AS j_currency, s[15] AS v_currency,
               CAST(f[16] AS VARCHAR) AS j_device_type, s[16] AS v_device_type,
               CAST(f[17] AS VARCHAR) AS j_browser, s[17] AS v_browser,
               CAST(f[18] AS VARCHAR) AS j_country, s[18] AS v_country,
               CAST(f[19] AS VARCHAR) AS j_referrer, s[19] AS v_referrer,
               CAST(f[20] AS VARCHAR) AS j_user_type, s[20] AS v_user_type,
               CAST(f[21] AS VARCHAR) AS j_campaign_id, s[21] AS v_campaign_id,
               CAST(f[22] AS VARCHAR) AS j_ad_id, s[22] AS v_ad_id,
               CAST(f[23] AS VARCHAR) AS j_schema_version, s[23] AS v_schema_version, len(keys) > n_present + n_extra AS repeated_field
        FROM (
          SELECT *, CASE WHEN len(keys) = n_present THEN 0 ELSE len(list_filter(keys, lambda k: NOT list_contains(['event_id', 'event_type', 'event_time', 'user_id', 'session_id', 'page', 'product_id', 'category', 'brand', 'price', 'quantity', 'order_id', 'discount_code', 'discount_amount', 'currency', 'device_type', 'browser', 'country', 'referrer', 'user_type', 'campaign_id', 'ad_id', 'schema_version'], k))) END AS n_extra
          FROM (
            SELECT *, CAST(f[1] IS NOT NULL AS INTEGER) + CAST(f[2] IS NOT NULL AS INTEGER) + CAST(f[3] IS NOT NULL AS INTEGER) + CAST(f[4] IS NOT NULL AS INTEGER) + CAST(f[5] IS NOT NULL AS INTEGER) + CAST(f[6] IS NOT NULL AS INTEGER) + CAST(f[7] IS NOT NULL AS INTEGER) + CAST(f[8] IS NOT NULL AS INTEGER) + CAST(f[9] IS NOT NULL AS INTEGER) + CAST(f[10] IS NOT NULL AS INTEGER) + CAST(f[11] IS NOT NULL AS INTEGER) + CAST(f[12] IS NOT NULL AS INTEGER) + CAST(f[13] IS NOT NULL AS INTEGER) + CAST(f[14] IS NOT NULL AS INTEGER) + CAST(f[15] IS NOT NULL AS INTEGER) + CAST(f[16] IS NOT NULL AS INTEGER) + CAST(f[17] IS NOT NULL AS INTEGER) + CAST(f[18] IS NOT NULL AS INTEGER) + CAST(f[19] IS NOT NULL AS INTEGER) + CAST(f[20] IS NOT NULL AS INTEGER) + CAST(f[21] IS NOT NULL AS INTEGER) + CAST(f[22] IS NOT NULL AS INTEGER) + CAST(f[23] IS NOT NULL AS INTEGER) AS n_present
            FROM (
              SELECT o.*,
                     CASE WHEN is_object THEN json_keys(line) END AS keys,
                     CASE WHEN is_object THEN json_extract(line, ['$."event_id"', '$."event_type"', '$."event_time"', '$."user_id"', '$."session_id"', '$."page"', '$."product_id"', '$."category"', '$."brand"', '$."price"', '$."quantity"', '$."order_id"', '$."discount_code"', '$."discount_amount"', '$."currency"', '$."device_type"', '$."browser"', '$."country"', '$."referrer"', '$."user_type"', '$."campaign_id"', '$."ad_id"', '$."schema_version"']) END AS f,
                     CASE WHEN is_object THEN json_extract_string(line, ['$."event_id"', '$."event_type"', '$."event_time"', '$."user_id"', '$."session_id"', '$."page"', '$."product_id"', '$."category"', '$."brand"', '$."price"', '$."quantity"', '$."order_id"', '$."discount_code"', '$."discount_amount"', '$."currency"', '$."device_type"', '$."browser"', '$."country"', '$."referrer"', '$."user_type"', '$."campaign_id"', '$."ad_id"', '$."schema_version"']) END AS s
              FROM (
                  SELECT r.*,
                         raw_bytes IS NULL AND line_number > 0 AND strlen(line) <= 65536
                         AND coalesce(json_valid(line) AND ltrim(line) LIKE '{%', false) AS is_object
                  FROM (SELECT * FROM raw_lines) AS r
              ) AS o
            ) AS n
          ) AS k
        ) AS p
    ) AS p
                    ) AS t
                ) AS v
            ) AS l
        ) AS typed
    ) AS c
