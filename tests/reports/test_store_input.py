"""Reading the store CSVs: columns by header name, typed values, bad rows with their line numbers."""

import gzip
import io

import numpy as np
import pytest

from reports import store_input
from reports.store_input import InputFileError


def source(text: str) -> io.BytesIO:
    return io.BytesIO(text.encode("utf-8"))


def rows_of(parsed) -> list[tuple]:
    columns = [values.tolist() for values in parsed.columns.values()]
    rows = zip(parsed.store_code.tolist(), *columns, strict=True)
    return [(parsed.store_ids[code], *values) for code, *values in rows]


def test_columns_are_matched_by_name_in_any_order_with_extra_columns():
    parsed = store_input.parse_store_status(
        source("\ufefftimestamp_utc, Status ,extra,store_id\n2023-01-25 18:13:22.47922 UTC,active,x, 42 \n")
    )
    assert parsed.ok
    assert rows_of(parsed) == [("42", 1674670402479220, True)]  # microseconds kept (a trailing zero dropped)


def test_missing_columns_are_named():
    with pytest.raises(InputFileError, match=r"store_status.csv is missing columns: status, timestamp_utc"):
        store_input.parse_store_status(source("store_id,stat,time\n1,active,2023-01-01 00:00:00\n"))
    with pytest.raises(InputFileError, match=r"missing columns: dayOfWeek or day"):
        store_input.parse_menu_hours(source("store_id,start_time_local,end_time_local\n"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2023-01-25 18:13:22.47922 UTC", "2023-01-25T18:13:22.479220"),
        ("2023-01-25 18:13:22 UTC", "2023-01-25T18:13:22.000000"),
        ("2023-01-25 18:13:22.1 UTC", "2023-01-25T18:13:22.100000"),
        ("2023-01-25 18:13:22.123456", "2023-01-25T18:13:22.123456"),
        ("2023-01-25T18:13:22.5+00:00", "2023-01-25T18:13:22.500000"),
        ("2023-01-25T18:13:22Z", "2023-01-25T18:13:22.000000"),
    ],
)
def test_timestamp_forms(text, expected):
    parsed = store_input.parse_store_status(source(f"store_id,status,timestamp_utc\n1,active,{text}\n"))
    assert parsed.ok, parsed.bad_rows.as_dict()
    value = np.datetime64(int(parsed.columns["time_us"][0]), "us")
    assert str(value) == expected


def test_store_ids_stay_strings():
    parsed = store_input.parse_store_status(
        source(
            "store_id,status,timestamp_utc\n"
            "8419537941919820732,active,2023-01-25 18:13:22 UTC\n"
            "8419537941919820733,active,2023-01-25 18:13:22 UTC\n"
            "08419537941919820732,active,2023-01-25 18:13:22 UTC\n"
        )
    )
    assert [r[0] for r in rows_of(parsed)] == ["8419537941919820732", "8419537941919820733", "08419537941919820732"]


def test_bad_rows_are_counted_with_line_numbers():
    parsed = store_input.parse_store_status(
        source(
            "store_id,status,timestamp_utc\n"
            "1,active,2023-01-25 18:13:22 UTC\n"  # line 2
            "1,activ,2023-01-25 18:13:22 UTC\n"  # 3: unknown status
            "\n"  # 4: blank lines are skipped but counted
            "2,inactive,2023-02-30 10:00:00 UTC\n"  # 5: no such date
            ",active,2023-01-25 18:13:22 UTC\n"  # 6: no store id
            "3,active,2023-01-25\n"  # 7: no time
            "3,active,yesterday\n"  # 8
        )
    )
    assert not parsed.ok
    bad = parsed.bad_rows.as_dict()
    assert bad["count"] == 5
    assert [(r["line"], r["reason"]) for r in bad["rows"]] == [
        (3, "unknown status"),
        (5, "unparseable timestamp"),
        (6, "empty store_id"),
        (7, "unparseable timestamp"),
        (8, "unparseable timestamp"),
    ]
    assert parsed.columns == {}
    assert "5 bad rows" in parsed.bad_rows.summary() and "lines 3, 5, 6, 7, 8" in parsed.bad_rows.summary()


def test_menu_hours_accept_the_older_day_column_and_check_values():
    parsed = store_input.parse_menu_hours(
        source(
            "store_id,day,start_time_local,end_time_local\n"
            "1,0,09:00:00,17:30:00.25\n"
            "1,7,09:00:00,17:00:00\n"  # line 3: no day 7
            "1,1,25:00:00,17:00:00\n"  # 4: no hour 25
            "1,2,09:00,17:00:00\n"  # 5: seconds missing
            "1,x,09:00:00,17:00:00\n"  # 6
        )
    )
    bad = parsed.bad_rows.as_dict()
    assert [(r["line"], r["reason"]) for r in bad["rows"]] == [
        (3, "dayOfWeek is not an integer from 0 to 6"),
        (4, "bad start_time_local"),
        (5, "bad start_time_local"),
        (6, "dayOfWeek is not an integer from 0 to 6"),
    ]
    good = store_input.parse_menu_hours(
        source("store_id,day,start_time_local,end_time_local\n1,0,09:00:00,17:30:00.25\n")
    )
    assert rows_of(good) == [("1", 0, 9 * 3600 * 10**6, (17 * 3600 + 1800) * 10**6 + 250_000)]


def test_a_stores_first_timezone_row_wins():
    parsed = store_input.parse_timezones(source("store_id,timezone_str\n1,America/Denver\n2,\n1,America/New_York\n"))
    assert rows_of(parsed) == [("1", "America/Denver"), ("2", "")]


def test_a_malformed_csv_names_the_line():
    with pytest.raises(InputFileError, match=r"Expected 2 fields in line 3, saw 3"):
        store_input.parse_timezones(source("store_id,timezone_str\n1,UTC\n2,UTC,extra\n"))
    with pytest.raises(InputFileError, match=r"line 4: has an unterminated quote"):
        store_input.parse_timezones(source('store_id,timezone_str\n1,UTC\n2,UTC\n3,"x\n'))


def test_not_utf8_is_rejected():
    with pytest.raises(InputFileError, match="not UTF-8"):
        store_input.parse_timezones(io.BytesIO("store_id,timezone_str\n1,Zürich\n".encode("latin-1")))


def test_gzip_files_by_name(tmp_path):
    path = tmp_path / "timezones.csv.gz"
    with gzip.open(path, "wt") as handle:
        handle.write("store_id,timezone_str\n1,UTC\n")
    assert rows_of(store_input.parse_timezones(path)) == [("1", "UTC")]


def test_header_only_files_are_empty_not_errors():
    parsed = store_input.parse_store_status(source("store_id,status,timestamp_utc\n"))
    assert parsed.ok and len(parsed) == 0


def test_bad_rows_are_found_in_every_chunk(monkeypatch):
    monkeypatch.setattr(store_input, "CHUNK_ROWS", 3)
    lines = ["store_id,status,timestamp_utc"] + [f"{i},active,2023-01-25 18:13:{i:02d} UTC" for i in range(10)]
    lines[8] = "7,gone,2023-01-25 18:13:00 UTC"
    parsed = store_input.parse_store_status(source("\n".join(lines) + "\n"))
    assert [r["line"] for r in parsed.bad_rows.as_dict()["rows"]] == [9]
    good = store_input.parse_store_status(source("\n".join(lines[:8]) + "\n"))
    assert len(good) == 7 and good.store_ids == [str(i) for i in range(7)]


def test_timestamps_with_stray_spaces_or_lowercase_suffix():
    parsed = store_input.parse_store_status(
        source("store_id,status,timestamp_utc\n1,active, 2023-01-25 18:13:22 UTC \n2,active,2023-01-25 18:13:23 utc\n")
    )
    assert parsed.ok, parsed.bad_rows.as_dict()
    assert parsed.columns["time_us"].tolist() == [1674670402000000, 1674670403000000]
