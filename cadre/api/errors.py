"""Error answers of the API: always JSON `{"detail": ..., "errors": {field: [messages]}}`, in French."""

import json

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

from cadre.core.french import plural

INVALID_DATA = "Données invalides : rien n'a été enregistré. Corrigez les champs indiqués."
INVALID_QUERY = "Paramètres de requête invalides."
NOT_FOUND = "Ressource introuvable (ou hors de votre périmètre)."
UNAUTHENTICATED = (
    "Authentification requise : envoyez l'en-tête « Authorization: Bearer <jeton> » "
    "(jeton créé sur la page « Mon compte ») ou connectez-vous."
)


class ApiError(Exception):
    """An answer other than success: status, French `detail` and any other keys of the body."""

    def __init__(self, status, detail, *, headers=None, **body):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or {}
        self.body = body


class FieldErrors(ApiError):
    """Bad input: French messages by field name."""

    def __init__(self, errors, detail=INVALID_DATA, status=422):
        super().__init__(status, detail, errors=errors)


def django_errors(error: DjangoValidationError):
    """{field: [messages]} of a Django ValidationError (model full_clean or form field)."""
    if hasattr(error, "error_dict"):
        return {field: list(messages) for field, messages in error.message_dict.items()}
    return {"__all__": list(error.messages)}


def form_errors(form):
    return {field: [e["message"] for e in errors] for field, errors in form.errors.get_json_data().items()}


# Pydantic error types in French; `{...}` are taken from the error's context, and a function of that
# context gives the messages whose words agree with a number.
PYDANTIC_MESSAGES = {
    "missing": "Ce champ est obligatoire.",
    "string_type": "Texte attendu.",
    "string_too_long": lambda c: f"Au plus {plural(c['max_length'], 'caractère')}.",
    "string_too_short": lambda c: f"Au moins {plural(c['min_length'], 'caractère')}.",
    "int_type": "Nombre entier attendu.",
    "int_parsing": "Nombre entier attendu.",
    "int_from_float": "Nombre entier attendu (sans décimale).",
    "float_type": "Nombre attendu.",
    "float_parsing": "Nombre attendu.",
    "bool_type": "Booléen attendu (true ou false).",
    "bool_parsing": "Booléen attendu (true ou false).",
    "date_type": "Date attendue au format AAAA-MM-JJ.",
    "date_parsing": "Date attendue au format AAAA-MM-JJ.",
    "date_from_datetime_parsing": "Date attendue au format AAAA-MM-JJ.",
    "date_from_datetime_inexact": "Date attendue au format AAAA-MM-JJ, sans heure.",
    "list_type": "Liste attendue.",
    "dict_type": "Objet JSON attendu.",
    "model_type": "Objet JSON attendu.",
    "model_attributes_type": "Objet JSON attendu.",
    "uuid_type": "Identifiant (UUID) attendu.",
    "uuid_parsing": "Identifiant (UUID) mal formé.",
    "enum": "Valeur non autorisée : choisissez parmi {expected}.",
    "literal_error": "Valeur non autorisée : choisissez parmi {expected}.",
    "extra_forbidden": "Champ inconnu ou en lecture seule.",
    "too_long": lambda c: f"Au plus {plural(c['max_length'], 'élément')}.",
    "too_short": lambda c: f"Au moins {plural(c['min_length'], 'élément')}.",
    "greater_than_equal": "La valeur doit être supérieure ou égale à {ge}.",
    "less_than_equal": "La valeur doit être inférieure ou égale à {le}.",
    "greater_than": "La valeur doit être supérieure à {gt}.",
    "less_than": "La valeur doit être inférieure à {lt}.",
    "none_required": "Ce champ doit être vide (null).",
}
PARAM_SOURCES = {"body", "query", "path", "header", "cookie", "form", "file"}


def french_message(error):
    template = PYDANTIC_MESSAGES.get(error["type"])
    if template is None:
        return f"Valeur invalide ({error['msg']})."
    context = {k: str(v).replace(" or ", " ou ") for k, v in (error.get("ctx") or {}).items()}
    if callable(template):
        return template(error.get("ctx") or {})
    try:
        return template.format(**context)
    except KeyError:
        return template.split(":")[0] + "."


def pydantic_field_errors(raw_errors):
    """Ninja's validation errors grouped by field name, in French.

    A location is (source, [parameter name,] field, [index…]): the field is the first name after
    the source and the body parameter; list positions are told in the message.
    """
    errors = {}
    for error in raw_errors:
        loc = list(error.get("loc", ()))
        source = loc.pop(0) if loc and loc[0] in PARAM_SOURCES else ""
        if source == "body" and loc and loc[0] == "payload":
            loc.pop(0)
        if not loc:
            field = "body" if source == "body" else source or "__all__"
            message = (
                "Le corps de la requête est vide : envoyez un objet JSON."
                if error["type"] == "missing"
                else french_message(error)
            )
        else:
            field = str(loc[0])
            message = french_message(error)
            positions = [p for p in loc[1:] if isinstance(p, int)]
            if positions:
                message = f"Élément n° {positions[0] + 1} : {message[0].lower()}{message[1:]}"
        errors.setdefault(field, []).append(message)
    return errors


def install_handlers(api):
    """French JSON answers for every error the API can raise."""

    def respond(request, status, body, headers=None):
        response = api.create_response(request, body, status=status)
        for name, value in (headers or {}).items():
            response[name] = value
        return response

    def on_api_error(request, exc: ApiError):
        return respond(request, exc.status, {"detail": exc.detail, **exc.body}, exc.headers)

    def on_authentication_error(request, exc):
        return respond(request, 401, {"detail": UNAUTHENTICATED}, {"WWW-Authenticate": 'Bearer realm="api"'})

    def on_http_error(request, exc: HttpError):
        cause = exc.__cause__
        if isinstance(cause, (json.JSONDecodeError, UnicodeDecodeError)):
            where = f" (ligne {cause.lineno}, colonne {cause.colno})" if hasattr(cause, "lineno") else ""
            message = f"JSON mal formé{where} : vérifiez les guillemets, les virgules et les accolades."
            if isinstance(cause, UnicodeDecodeError):
                message = "Le corps de la requête doit être encodé en UTF-8."
            return respond(
                request,
                400,
                {"detail": f"Le corps de la requête n'est pas un JSON valide{where}.", "errors": {"body": [message]}},
            )
        return respond(request, exc.status_code, {"detail": str(exc)})

    def on_validation_error(request, exc: NinjaValidationError):
        errors = pydantic_field_errors(exc.errors)
        in_body = any(e.get("loc", ("",))[0] == "body" for e in exc.errors)
        # Bad query strings or headers are the request's fault (400); a well-formed but wrong body is 422.
        if in_body:
            return respond(request, 422, {"detail": INVALID_DATA, "errors": errors})
        return respond(request, 400, {"detail": INVALID_QUERY, "errors": errors})

    def on_not_found(request, exc):
        return respond(request, 404, {"detail": NOT_FOUND})

    api.add_exception_handler(ApiError, on_api_error)
    api.add_exception_handler(AuthenticationError, on_authentication_error)
    api.add_exception_handler(HttpError, on_http_error)
    api.add_exception_handler(NinjaValidationError, on_validation_error)
    api.add_exception_handler(Http404, on_not_found)
