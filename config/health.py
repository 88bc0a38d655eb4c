"""Liveness (no auth, no dependencies) and readiness of every part of the platform."""

import logging

from django.http import JsonResponse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from jobs.selectors import system_health

logger = logging.getLogger(__name__)


def liveness(request):
    return JsonResponse({"status": "ok"})


def redacted(report: dict) -> dict:
    """The health report without error texts: a database error names hosts, ports and users.

    The texts go to the log; the answer keeps which part is down and the kind of error.
    """
    checks = {}
    for name, check in report["checks"].items():
        check = dict(check)
        detail = check.pop("detail", None)
        if detail is not None:
            logger.warning("Health check %s failed: %s", name, detail)
            check["detail"] = "unavailable: see the server log"
        checks[name] = check
    return {"status": report["status"], "checks": checks}


class HealthApi(APIView):
    """Database, Redis, workers and scheduler: 200 when all are up, 503 otherwise.

    Anyone may ask (a load balancer's readiness probe): anonymous callers get the status only,
    signed-in users every part too; error texts never leave the server.
    """

    permission_classes = [AllowAny]

    class OutputSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=["ok", "unavailable"])
        checks = serializers.DictField(required=False, help_text="Per part; for signed-in callers only.")

    @extend_schema(responses={200: OutputSerializer, 503: OutputSerializer})
    def get(self, request):
        report = redacted(system_health())
        if not request.user.is_authenticated:
            report = {"status": report["status"]}
        return Response(report, status=200 if report["status"] == "ok" else 503)
