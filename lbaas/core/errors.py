"""The errors the core raises, each with its HTTP code and Octavia's message template."""


class APIError(Exception):
    """An error a caller may see: an HTTP code and a message safe to show them."""

    code = 500
    template = "Something unknown went wrong"

    def __init__(self, operator_message=None, **kwargs):
        self.kwargs = kwargs
        self.message = self.template % kwargs if kwargs else self.template
        self.operator_message = operator_message
        super().__init__(self.message)


class NotFound(APIError):
    code = 404
    template = "%(resource)s %(id)s not found."


class PolicyForbidden(APIError):
    code = 403
    template = "Policy does not allow this request to be performed."


class QuotaException(APIError):
    code = 403
    template = "Quota has been met for resources: %(resource)s"


class InvalidInput(APIError):
    """A value failed its type, enum or bound check."""

    code = 400
    template = "Invalid input for field/attribute %(attr)s. Value: '%(value)s'. %(reason)s"


class BadRequest(APIError):
    """A 400 whose whole message is given."""

    code = 400
    template = "%(message)s"


class ValidationException(APIError):
    code = 400
    template = "Validation failure: %(detail)s"


class VIPValidationException(APIError):
    code = 400
    template = "Validation failure: VIP must contain one of: %(objects)s."


class InvalidOption(APIError):
    code = 400
    template = "%(value)s is not a valid option for %(option)s"


class DisabledOption(APIError):
    code = 400
    template = "The selected %(option)s is not allowed in this deployment: %(value)s"


class InvalidSubresource(APIError):
    code = 400
    template = "%(resource)s %(id)s not found."


class InvalidURLPath(APIError):
    code = 400
    template = "Not a valid URLPath: %(url_path)s"


class SingleCreateDetailsMissing(APIError):
    code = 400
    template = "Missing details for %(type)s object: %(name)s"


class InvalidFilterArgument(APIError):
    code = 400
    template = "One or more arguments are either duplicate or invalid"


class InvalidSortKey(APIError):
    code = 400
    template = "Supplied sort key '%(key)s' is not valid."


class InvalidSortDirection(APIError):
    code = 400
    template = "Supplied sort direction '%(key)s' is not valid."


class InvalidMarker(APIError):
    code = 400
    template = "Supplied pagination marker '%(key)s' is not valid."


class InvalidLimit(APIError):
    code = 400
    template = "Supplied pagination limit '%(key)s' is not valid."


class TooManyFilterValues(APIError):
    code = 400
    template = ("Too many values for filter '%(name)s': %(count)d distinct values given, "
                "at most %(limit)d allowed.")


class TooManyFilterValuesInRequest(APIError):
    code = 400
    template = ("Too many filter values: %(count)d distinct values given in all, at most "
                "%(limit)d allowed per request.")


class QueryStringTooLong(APIError):
    code = 400
    template = "The query string is %(length)d bytes long; at most %(limit)d are allowed."


class ProviderNotEnabled(APIError):
    code = 400
    template = "Provider '%(prov)s' is not enabled."


class ListenerNoChildren(APIError):
    code = 400
    template = "Protocol %(protocol)s listeners cannot have child objects."


class MemberSRIOVDisabled(APIError):
    code = 400
    template = "The load balancer flavor does not allow SR-IOV member ports."


class InvalidIPAddress(APIError):
    code = 400
    template = "The IP Address %(ip_addr)s is invalid."


class MissingProjectID(APIError):
    code = 400
    template = ("Missing project ID in request where one is required. An administrator "
                "should check the keystone settings in the lbaas configuration.")


class L7RuleValidation(APIError):
    code = 400
    template = "Error parsing L7Rule: %(error)s"


class InvalidL7PolicyAction(APIError):
    code = 400
    template = "Invalid L7 Policy action specified: %(action)s"


class InvalidL7PolicyArgs(APIError):
    code = 400
    template = "Invalid L7 Policy arguments: %(msg)s"


class ProviderFlavorMismatchError(APIError):
    code = 400
    template = "Flavor '%(flav)s' is not compatible with provider '%(prov)s'"


class ImmutableObject(APIError):
    code = 409
    template = "%(resource)s %(id)s is immutable and cannot be updated."


class LBPendingStateError(APIError):
    code = 409
    template = "Invalid state %(state)s of loadbalancer resource %(id)s"


class DuplicateListenerEntry(APIError):
    code = 409
    template = ("Another Listener on this Load Balancer is already using protocol "
                "%(protocol)s and protocol_port %(port)d")


class DuplicateMemberEntry(APIError):
    code = 409
    template = ("Another member on this pool is already using ip %(ip_address)s on "
                "protocol_port %(port)d")


class DuplicateHealthMonitor(APIError):
    code = 409
    template = "This pool already has a health monitor"


class DuplicatePoolEntry(APIError):
    code = 409
    template = "This listener already has a default pool"


class PoolInUseByL7Policy(APIError):
    code = 409
    template = "Pool %(id)s is in use by L7 policy %(l7policy_id)s"


class TooManyL7RulesOnL7Policy(APIError):
    code = 409
    template = "Too many rules on L7 policy %(id)s"


class RecordAlreadyExists(APIError):
    code = 409
    template = "A %(field)s of %(name)s already exists."


class ObjectInUse(APIError):
    code = 409
    template = "%(object)s %(id)s is in use and cannot be modified."


class ConcurrentUpdate(APIError):
    """The request's transaction kept losing lock races to other writers (lbaas.core.lost_race)."""

    code = 409
    template = ("Another request was changing the same objects at the same time; nothing was "
                "changed. Please retry the request.")


class VIPAddressConflict(APIError):
    code = 409
    template = "The VIP IP address is already in use: %(msg)s"


class NetworkConflict(APIError):
    """The network service refused a port for a reason the caller may fix (a quota, a full
    subnet); the message is the network service's own."""

    code = 409
    template = "%(message)s"


class ServiceUnavailable(APIError):
    """A service lbaas depends on could not answer; nothing was changed."""

    code = 503
    template = ("%(service)s could not be reached; nothing was changed. Please retry the "
                "request later.")


class ProviderDriverError(APIError):
    code = 500
    template = "Provider '%(prov)s' reports error: %(user_msg)s"


class ProviderNotFound(APIError):
    code = 501
    template = "Provider '%(prov)s' was not found."


class ProviderNotImplementedError(APIError):
    code = 501
    template = "Provider '%(prov)s' does not support a requested action: %(user_msg)s"


class ProviderUnsupportedOptionError(APIError):
    code = 501
    template = "Provider '%(prov)s' does not support a requested option: %(user_msg)s"


class RequestTooLarge(APIError):
    code = 413
    template = "Request body is larger than %(limit)d bytes."


class StatusUpdateError(Exception):
    """A status record a driver sent could not be applied."""

    def __init__(self, message, collection=None, object_id=None):
        super().__init__(message)
        self.collection = collection
        self.object_id = object_id


class CertificateRetrievalException(APIError):
    code = 400
    template = "Could not retrieve certificate: %(ref)s"
