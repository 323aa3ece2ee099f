SELECT r.* FROM (SELECT * FROM raw) AS r
        SEMI JOIN (SELECT * FROM leftover_keys) AS k ON r.source_file = k.source_file AND r.line_number = k.line_number
