"""The Rekognition adapter against botocore's Stubber: the request moderate sends and the
response it reads are validated against Rekognition's service model, so a wrong parameter name,
type or limit fails here rather than on the first deployed upload."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError, ParamValidationError
from botocore.stub import Stubber

from tests import imagegen as g

from ..engines import Rekognition
from ..logic import MAX_IMAGE_BYTES, Moderator, classifier_copy
from ..settings import Settings


def client() -> object:
    return boto3.client(
        "rekognition", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )


RESPONSE = {
    "ModerationLabels": [
        {"Confidence": 97.25, "Name": "Violence", "ParentName": "", "TaxonomyLevel": 1},
        {"Confidence": 91.5, "Name": "Weapons", "ParentName": "Violence", "TaxonomyLevel": 2},
        {"Confidence": 62.0, "Name": "Smoking", "ParentName": "Drugs & Tobacco", "TaxonomyLevel": 2},
    ],
    "ModerationModelVersion": "7.0",
}


def test_detect_sends_the_copy_and_min_confidence_and_reads_the_labels() -> None:
    rekognition = client()
    settings = Settings(min_confidence=60.0)
    moderator = Moderator(Rekognition(rekognition))
    upload = g.jpeg(g.photo((3000, 2000)))
    with Stubber(rekognition) as stub:
        # exactly the reduced copy (a JPEG within the limits), and MinConfidence passed on
        copy = classifier_copy(upload, settings)[1]
        assert copy is not None
        stub.add_response("detect_moderation_labels", RESPONSE, {"Image": {"Bytes": copy.data}, "MinConfidence": 60.0})
        [out] = moderator.process(upload, settings)
        stub.assert_no_pending_responses()
    found = out.facts
    assert found is not None
    assert found["engine"] == "rekognition" and found["model_version"] == "7.0"
    assert found["held"] is True and found["held_by"] == ["Violence", "Weapons"]
    assert found["labels"][2] == {"name": "Smoking", "confidence": 62.0, "parent": "Drugs & Tobacco", "level": 2}
    assert found["checked"]["width"] == 1280 and found["checked"]["bytes"] <= MAX_IMAGE_BYTES


def test_the_request_shape_is_the_service_models() -> None:
    """Stubber validates parameters against the model: a wrong name or a value out of range fails."""
    rekognition = client()
    with Stubber(rekognition) as stub:
        stub.add_response("detect_moderation_labels", RESPONSE)
        with pytest.raises(ParamValidationError):
            rekognition.detect_moderation_labels(Image={"Data": b"x"}, MinConfidence=50.0)  # type: ignore[attr-defined]


def test_a_response_outside_the_model_is_refused_by_the_stubber() -> None:
    rekognition = client()
    with Stubber(rekognition) as stub, pytest.raises(ParamValidationError):
        stub.add_response("detect_moderation_labels", {"ModerationLabels": [{"Label": "x"}]})


def test_throttling_raises_so_lambda_retries() -> None:
    rekognition = client()
    with Stubber(rekognition) as stub:
        stub.add_client_error("detect_moderation_labels", "ThrottlingException", http_status_code=400)
        with pytest.raises(ClientError):
            Rekognition(rekognition).detect(g.jpeg(g.photo((100, 100))), 50.0, "k.jpg")


def test_no_labels_is_not_held() -> None:
    rekognition = client()
    with Stubber(rekognition) as stub:
        stub.add_response("detect_moderation_labels", {"ModerationLabels": [], "ModerationModelVersion": "7.0"})
        [out] = Moderator(Rekognition(rekognition)).process(g.png(g.photo((200, 150))), Settings())
    assert out.facts is not None and out.facts["held"] is False
