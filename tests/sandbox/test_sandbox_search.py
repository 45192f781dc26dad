"""identity/search (§3.5): a 0-based, paged directory of persons and organizations."""

import pytest
from sandbox_helpers import assert_error, organization, person


@pytest.fixture
def directory(pg, api):
    pg.reset()
    people = [api.create("person", person(lastName=f"کاربر{i}", customerNumber=f"50{i}")) for i in range(5)]
    orgs = [api.create("organization", organization(nickName="پخش البرز", customerNumber="7001")),
            api.create("organization", organization(nickName="Alborz Trading", customerNumber=None))]
    return people + orgs


def search(api, **body):
    return api.ok("crmobject/identity/search", body)


def test_empty_term_pages_through_everything(api, directory):
    pages = [search(api, pageNumber=n, pageSize=3, searchTerm="") for n in range(4)]

    assert [len(p) for p in pages] == [3, 3, 1, 0]
    assert [hit["identityId"] for p in pages for hit in p] == directory
    assert set(pages[0][0]) == {"identityId", "nickName", "customerNo"}


def test_hits_show_nick_name_or_full_name_and_customer_number(api, directory):
    hits = search(api, pageNumber=0, pageSize=50, searchTerm="")

    assert hits[0] == {"identityId": directory[0], "nickName": "علی کاربر0", "customerNo": "500"}
    assert hits[-1]["customerNo"] == ""  # an identity without a customer number


@pytest.mark.parametrize("term, count", [("کاربر", 5), ("کاربر3", 1), ("700", 1), ("50", 5), ("alborz", 1),
                                         ("البرز", 1), ("nobody", 0)])
def test_term_matches_customer_number_and_names(api, directory, term, count):
    assert len(search(api, pageNumber=0, pageSize=50, searchTerm=term)) == count


def test_pascal_case_body_and_negative_page(api, directory):
    assert len(api.ok("crmobject/identity/search", {"PageNumber": 0, "PageSize": 2, "SearchTerm": ""})) == 2
    assert_error(api.post("crmobject/identity/search", {"pageNumber": -1, "pageSize": 2}), 400)
