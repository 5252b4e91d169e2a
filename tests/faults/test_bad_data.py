"""(d) A poison row, and results that cannot be stored: that request fails with a reason, the rest succeed.

The poison row: a job whose service type is none the service knows, written past the ORM's
checks (raw SQL, as an import of another system's data could), so that scoring it raises.
Results that cannot be stored: a trigger refuses the rows of one job. Before, the worker
published the answer first and wrote the rows after: the API said `succeeded` while the table
said `running` with no rows (finding 1 of issue 12). Now the table is written first, and what
the API reports is what the table holds.
"""

from __future__ import annotations

import pytest

from tests.support.stack import Stack, Traffic

pytestmark = [pytest.mark.fault, pytest.mark.slow]


def _ask_about_every_job(stack: Stack) -> tuple[Traffic, dict[str, int]]:
    traffic = Traffic(stack)
    jobs = {}
    for caller in traffic.callers[:6]:
        for job in caller["jobs"][:4]:
            answer = traffic.request(caller, job)
            assert answer.status == 202, answer.body
            jobs[answer.body["id"]] = job
    return traffic, jobs


def test_a_poison_row_fails_its_own_request_with_a_reason_and_no_other(stack: Stack) -> None:
    poison = stack.cluster.seed["callers"][0]["jobs"][0]
    stack.execute("UPDATE marketplace_cleaningjob SET service_type = 'levitation' WHERE id = %s", (poison,))

    traffic, jobs = _ask_about_every_job(stack)
    outcome = stack.check(traffic)

    assert {jobs[i] for i in outcome["failed"]} == {poison}
    assert all("could not compute" in error for error in outcome["failed"].values()), outcome["failed"]


def test_results_that_cannot_be_stored_fail_the_request_and_the_api_says_so(stack: Stack) -> None:
    refused = stack.cluster.seed["callers"][1]["jobs"][0]
    stack.execute(
        "CREATE FUNCTION refuse_rows() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"IF NEW.job_id = {int(refused)} THEN RAISE EXCEPTION 'refused by the test'; END IF; RETURN NEW; END $$; "
        "CREATE TRIGGER refuse_rows BEFORE INSERT ON recommendations_cleanerrecommendation "
        "FOR EACH ROW EXECUTE FUNCTION refuse_rows()"
    )

    traffic, jobs = _ask_about_every_job(stack)
    outcome = stack.check(traffic)  # among the checks: the API's status of each is the table's

    assert {jobs[i] for i in outcome["failed"]} == {refused}
    assert all("could not store" in error for error in outcome["failed"].values()), outcome["failed"]
