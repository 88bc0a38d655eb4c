"""Liveness (no auth, no dependencies) and readiness of every part of the platform."""

from django.http import JsonResponse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from jobs.selectors import system_health


def liveness(request):
    return JsonResponse({"status": "ok"})


class HealthApi(APIView):
    """Database, Redis, workers and scheduler: 200 when all are up, 503 otherwise."""

    permission_classes = [AllowAny]

    class OutputSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=["ok", "unavailable"])
        checks = serializers.DictField()

    @extend_schema(responses={200: OutputSerializer, 503: OutputSerializer})
    def get(self, request):
        report = system_health()
        return Response(report, status=200 if report["status"] == "ok" else 503)
