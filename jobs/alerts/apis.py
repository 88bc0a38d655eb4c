"""The alerts API: thin views over the alerts' selectors (reads) and services (rule edits)."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api_pagination import CreatedAtCursorPagination
from jobs.alerts import selectors, services
from jobs.alerts.serializers import AlertFilterInput, AlertOutput, AlertPageOutput, AlertRuleInput, AlertRuleOutput
from jobs.apis import StaffForWrites
from jobs.errors import NotFound


class AlertCursorPagination(CreatedAtCursorPagination):
    ordering = ("-opened_at", "-id")


class AlertListApi(APIView):
    @extend_schema(
        parameters=[AlertFilterInput],
        responses=AlertPageOutput,
        summary="List alerts, newest first (filter by status, rule, kind; cursor pagination)",
        operation_id="alerts_list",
    )
    def get(self, request):
        filters = AlertFilterInput(data=request.query_params)
        filters.is_valid(raise_exception=True)
        paginator = AlertCursorPagination()
        page = paginator.paginate_queryset(selectors.alert_list(**filters.selector_filters()), request, view=self)
        return paginator.get_paginated_response(AlertOutput(page, many=True).data)


class AlertDetailApi(APIView):
    @extend_schema(responses=AlertOutput, summary="An alert with the figures of its last evaluation")
    def get(self, request, alert_id):
        alert = selectors.alert_get(alert_id)
        if alert is None:
            raise NotFound(f"Alert {alert_id} does not exist.")
        return Response(AlertOutput(alert).data)


def _rule_or_404(rule_id):
    rule = selectors.rule_get(rule_id)
    if rule is None:
        raise NotFound(f"Alert rule {rule_id} does not exist.")
    return rule


class AlertRuleListApi(APIView):
    @extend_schema(responses=AlertRuleOutput(many=True), summary="List alert rules with their open alerts")
    def get(self, request):
        return Response(AlertRuleOutput(selectors.rule_list(), many=True).data)


class AlertRuleDetailApi(APIView):
    permission_classes = [StaffForWrites]

    @extend_schema(responses=AlertRuleOutput, summary="An alert rule")
    def get(self, request, rule_id):
        return Response(AlertRuleOutput(_rule_or_404(rule_id)).data)

    @extend_schema(
        request=AlertRuleInput,
        responses=AlertRuleOutput,
        summary="Enable, disable or edit a rule's thresholds and channels (staff)",
    )
    def patch(self, request, rule_id):
        payload = AlertRuleInput(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        services.alert_rule_update(rule_id=rule_id, user=request.user, **payload.validated_data)
        return Response(AlertRuleOutput(_rule_or_404(rule_id)).data)
