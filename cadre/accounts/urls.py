from django.contrib.auth.decorators import login_not_required
from django.urls import path

from . import proconnect, views
from .middleware import two_factor_exempt

app_name = "accounts"

urlpatterns = [
    path("connexion/", views.LoginView.as_view(), name="login"),
    path("deconnexion/", two_factor_exempt(views.LogoutView.as_view()), name="logout"),
    path("mot-de-passe/oubli/", views.PasswordResetView.as_view(), name="password_reset"),
    path("mot-de-passe/oubli/envoye/", views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "mot-de-passe/reinitialiser/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("mot-de-passe/reinitialise/", views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path("mot-de-passe/changer/", views.PasswordChangeView.as_view(), name="password_change"),
    path("", views.profile, name="profile"),
    path("invitation/<str:secret>/", views.invitation, name="invitation"),
    path("bienvenue/", views.welcome, name="welcome"),
    path("mes-donnees/", views.my_data, name="my_data"),
    path("supprimer/", views.erase, name="erase"),
    path("jetons/<uuid:uuid>/revoquer/", views.revoke_token, name="revoke_token"),
    # Two-factor authentication: the code and enrolment pages are what a session owing its code may open.
    path("double-authentification/", two_factor_exempt(views.two_factor_verify), name="two_factor_verify"),
    path("double-authentification/activer/", two_factor_exempt(views.two_factor_setup), name="two_factor_setup"),
    path(
        "double-authentification/codes-de-secours/",
        views.two_factor_recovery_codes,
        name="two_factor_recovery_codes",
    ),
    path("double-authentification/desactiver/", views.two_factor_disable, name="two_factor_disable"),
    # ProConnect (404 while not configured). Declare to ProConnect: redirect_uri …/compte/proconnect/retour/,
    # post_logout_redirect_uri …/compte/proconnect/deconnexion/.
    path("proconnect/", login_not_required(proconnect.ProConnectLoginView.as_view()), name="proconnect_login"),
    path(
        "proconnect/retour/",
        login_not_required(proconnect.ProConnectCallbackView.as_view()),
        name="proconnect_callback",
    ),
    path(
        "proconnect/deconnexion/",
        two_factor_exempt(login_not_required(proconnect.logged_out)),
        name="proconnect_logged_out",
    ),
]
