SELECT CASE WHEN hint <= landing_hour AND hint >= landing_hour - INTERVAL 2 HOUR
                         AND hint >= TIMESTAMP '2026-01-01 00:00:00'
                    THEN hint ELSE landing_hour END AS event_hour,
               landing_hour, source_file, line_number, line, raw_bytes,
               CAST(now() AS TIMESTAMP) AS ingested_at
        FROM (
            SELECT *, CAST(date_trunc('hour', event_ts) AS TIMESTAMP) AS hint
            FROM (
        SELECT * EXCLUDE (_et_pos, _et_found, _et_text), CASE WHEN regexp_full_match(_et_text, '[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?(Z|[+-][0-9]{2}(:?[0-9]{2})?)') THEN try_cast(_et_text AS TIMESTAMPTZ) END AS event_ts
        FROM (
            SELECT *, CASE WHEN _et_found IS NOT NULL AND strlen(_et_found) < 63 AND strpos(_et_found, '\') = 0 THEN _et_found
                           ELSE try(json_extract_string(line, '$.event_time')) END AS _et_text
            FROM (
                SELECT *, CASE WHEN _et_pos > 0 AND starts_with(line, '{') AND strpos(substr(line, 2, _et_pos - 2), '{') = 0 AND strpos(substr(line, 2, _et_pos - 2), '[') = 0 THEN split_part(substr(line, _et_pos + 14, 64), '"', 1) END AS _et_found
                FROM (SELECT *, strpos(line, '"event_time":"') AS _et_pos FROM (SELECT * FROM landed_lines) AS lines) AS p
            ) AS f
        ) AS t
    ) AS e
        ) AS b
