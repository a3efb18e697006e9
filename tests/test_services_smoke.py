from marketplace.catalog import services as catalog
from marketplace.catalog.models import ListingStatus


def test_listing_moves_through_the_workflow_to_published(make):
    owner = make.streamer(handle="mia")
    listing = make.listing(owner, status=ListingStatus.PUBLISHED)
    assert listing.status == ListingStatus.PUBLISHED
    assert [c.to_status for c in listing.status_changes] == ["submitted", "approved", "published"]
    assert catalog.published_listings().total == 1
