SELECT r.source_file, r.line_number FROM (SELECT * FROM raw) AS r
        ANTI JOIN (SELECT _source_file, _line_number FROM (SELECT * FROM cleaned)) AS c
          ON r.source_file = c._source_file AND r.line_number = c._line_number
