"""Who calls the API: a script with a bearer token, or a signed-in browser (session + CSRF)."""

from ninja.errors import HttpError
from ninja.security import HttpBearer, SessionAuth

from cadre.accounts import two_factor
from cadre.accounts.models import ApiToken


class BearerToken(HttpBearer):
    """`Authorization: Bearer cadre_…`: a token created on « Mon compte » or by `manage.py api_token`."""

    openapi_description = "Jeton d'API personnel (page « Mon compte » ou `manage.py api_token EMAIL`)."

    def authenticate(self, request, token):
        found = ApiToken.objects.authenticate(token)
        if found is None:
            return None
        # Endpoints, querysets and the history all read request.user: make it the token's owner.
        request.user = found.user
        return found.user


class BrowserSession(SessionAuth):
    """The signed-in user of the web pages (the interactive documentation uses it)."""

    def _get_key(self, request):
        try:
            return super()._get_key(request)
        except HttpError:
            raise HttpError(403, "Vérification CSRF échouée : rechargez la page de documentation et réessayez.")

    def authenticate(self, request, key):
        user = super().authenticate(request, key)
        # A session still owing its second factor is not signed in yet, here as on the pages.
        if user is None or not user.is_active or two_factor.owes_second_factor(request):
            return None
        return user


DEFAULT_AUTH = [BearerToken(), BrowserSession()]
