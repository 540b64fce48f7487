from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render


def landing(request: HttpRequest) -> HttpResponse:
    return render(request, "landing.html")


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    if getattr(request, "org", None) is None:
        return redirect("accounts:org_create")
    return render(request, "dashboard.html")
