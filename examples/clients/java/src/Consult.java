import be.fgov.kszbcss.intf.selfemployedservice.v2.ConsultCareerFaultMsg;
import be.fgov.kszbcss.intf.selfemployedservice.v2.ConsultContributionsFaultMsg;
import be.fgov.kszbcss.intf.selfemployedservice.v2.SelfEmployedService;
import be.fgov.kszbcss.intf.selfemployedservice.v2.SelfEmployedServicePortType;
import be.fgov.kszbcss.types.common.v3.BaseRequestType;
import be.fgov.kszbcss.types.common.v3.CBSSFaultType;
import be.fgov.kszbcss.types.common.v3.InformationCBSSType;
import be.fgov.kszbcss.types.common.v3.InformationCustomerType;
import be.fgov.kszbcss.types.common.v3.InformationType;
import be.fgov.kszbcss.types.common.v3.MessageType;
import be.fgov.kszbcss.types.common.v3.OpenPeriodType;
import be.fgov.kszbcss.types.common.v3.OpenQuarterPeriodType;
import be.fgov.kszbcss.types.common.v3.OrganizationIdentificationType;
import be.fgov.kszbcss.types.common.v3.SsinWithCanceledAndReplacesStatusType;
import be.fgov.kszbcss.types.common.v3.StatusType;
import be.fgov.kszbcss.types.selfemployed.v2.AffiliationType;
import be.fgov.kszbcss.types.selfemployed.v2.CareerType;
import be.fgov.kszbcss.types.selfemployed.v2.ConsultCareerCriteriaType;
import be.fgov.kszbcss.types.selfemployed.v2.ConsultCareerRequestType;
import be.fgov.kszbcss.types.selfemployed.v2.ConsultCareerResponseType;
import be.fgov.kszbcss.types.selfemployed.v2.ConsultContributionsCriteriaType;
import be.fgov.kszbcss.types.selfemployed.v2.ConsultContributionsRequestType;
import be.fgov.kszbcss.types.selfemployed.v2.ConsultContributionsResponseType;
import be.fgov.kszbcss.types.selfemployed.v2.ContributionDataType;
import com.sun.xml.ws.developer.JAXWSProperties;
import java.io.FileInputStream;
import java.io.InputStream;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.util.GregorianCalendar;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import javax.xml.datatype.DatatypeFactory;
import javax.xml.namespace.QName;
import javax.xml.soap.SOAPException;
import javax.xml.soap.SOAPFault;
import javax.xml.ws.BindingProvider;
import javax.xml.ws.handler.Handler;
import javax.xml.ws.handler.MessageContext;
import javax.xml.ws.handler.soap.SOAPHandler;
import javax.xml.ws.handler.soap.SOAPMessageContext;
import javax.xml.ws.soap.SOAPFaultException;

/**
 * Calls consultCareer or consultContributions of SelfEmployedService v2 with mutual TLS and
 * prints the answer as examples/clients/README.md says. The stubs are those wsimport generated
 * from the served WSDL (see ./build).
 *
 * <pre>
 * ./consult career SSIN [BEGIN_DATE [END_DATE]]
 * ./consult contributions SSIN FIRST_QUARTER LAST_QUARTER
 * </pre>
 */
public final class Consult {

    public static void main(String[] args) {
        boolean career = args.length >= 2 && args.length <= 4 && args[0].equals("career");
        boolean contributions = args.length == 4 && args[0].equals("contributions");
        if (!career && !contributions) {
            System.err.println("usage: consult career SSIN [BEGIN_DATE [END_DATE]]\n"
                    + "       consult contributions SSIN FIRST_QUARTER LAST_QUARTER");
            System.exit(1);
        }
        try {
            System.exit(consult(career, args));
        } catch (Exception e) { // no connection, TLS refused, a bad date, a missing variable…
            System.err.println("error: " + e);
            System.exit(1);
        }
    }

    /** Sends the request; 0 for an answer (any status), 2 for a SOAP fault. */
    static int consult(boolean career, String[] args) throws Exception {
        FaultCode faultCode = new FaultCode();
        SelfEmployedServicePortType port = port(faultCode);
        try {
            if (career) {
                print(port.consultCareer(careerRequest(args)));
            } else {
                print(port.consultContributions(contributionsRequest(args)));
            }
            return 0;
        } catch (ConsultCareerFaultMsg fault) {
            print(faultCode, fault.getMessage(), fault.getFaultInfo());
            return 2;
        } catch (ConsultContributionsFaultMsg fault) {
            print(faultCode, fault.getMessage(), fault.getFaultInfo());
            return 2;
        } catch (SOAPFaultException fault) { // a fault without the detail the WSDL declares
            SOAPFault soapFault = fault.getFault();
            line("fault", soapFault.getFaultCodeAsQName().getLocalPart() + " " + soapFault.getFaultString());
            return 2;
        }
    }

    /** The port, with its endpoint and its TLS from the environment. */
    static SelfEmployedServicePortType port(FaultCode faultCode) throws Exception {
        // The WSDL is read from the copy that ./build keeps in the class path, not fetched again.
        SelfEmployedServicePortType port = new SelfEmployedService().getSelfEmployedService();
        BindingProvider binding = (BindingProvider) port;
        Map<String, Object> context = binding.getRequestContext();
        // The gateway serves its WSDL at its endpoint: the address is SEG_WSDL_URL without "?wsdl".
        context.put(BindingProvider.ENDPOINT_ADDRESS_PROPERTY, env("SEG_WSDL_URL").replaceFirst("\\?.*$", ""));
        context.put(JAXWSProperties.SSL_SOCKET_FACTORY, tls().getSocketFactory());
        List<Handler> handlers = binding.getBinding().getHandlerChain();
        handlers.add(faultCode);
        binding.getBinding().setHandlerChain(handlers);
        return port;
    }

    /** Mutual TLS: the institution's PKCS#12 key store, and the gateway's CA as the only trust. */
    static SSLContext tls() throws Exception {
        char[] password = env("SEG_CLIENT_P12_PASSWORD").toCharArray();
        KeyStore keys = KeyStore.getInstance("PKCS12");
        try (InputStream in = new FileInputStream(env("SEG_CLIENT_P12_FILE"))) {
            keys.load(in, password);
        }
        KeyManagerFactory keyManagers = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        keyManagers.init(keys, password);

        KeyStore trusted = KeyStore.getInstance(KeyStore.getDefaultType());
        trusted.load(null, null);
        try (InputStream in = new FileInputStream(env("SEG_CA_FILE"))) {
            int n = 0;
            for (Certificate ca : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
                trusted.setCertificateEntry("ca-" + n++, ca);
            }
        }
        TrustManagerFactory trustManagers = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        trustManagers.init(trusted);

        SSLContext tls = SSLContext.getInstance("TLS");
        tls.init(keyManagers.getKeyManagers(), trustManagers.getTrustManagers(), null);
        return tls;
    }

    static ConsultCareerRequestType careerRequest(String[] args) throws Exception {
        ConsultCareerCriteriaType criteria = new ConsultCareerCriteriaType();
        criteria.setSsin(args[1]);
        if (args.length > 2) {
            OpenPeriodType period = new OpenPeriodType();
            DatatypeFactory dates = DatatypeFactory.newInstance();
            period.setBeginDate(dates.newXMLGregorianCalendar(args[2]));
            if (args.length > 3) {
                period.setEndDate(dates.newXMLGregorianCalendar(args[3]));
            }
            criteria.setPeriod(period);
        }
        ConsultCareerRequestType request = new ConsultCareerRequestType();
        caller(request);
        request.setCriteria(criteria);
        return request;
    }

    static ConsultContributionsRequestType contributionsRequest(String[] args) throws Exception {
        OpenQuarterPeriodType period = new OpenQuarterPeriodType();
        period.setBeginQuarter(args[2]);
        period.setEndQuarter(args[3]);
        ConsultContributionsCriteriaType criteria = new ConsultContributionsCriteriaType();
        criteria.setSsin(args[1]);
        criteria.setPeriod(period);
        ConsultContributionsRequestType request = new ConsultContributionsRequestType();
        caller(request);
        request.setCriteria(criteria);
        return request;
    }

    /** informationCustomer (a new ticket at every call, the institution's identification) and legalContext. */
    static void caller(BaseRequestType request) throws Exception {
        OrganizationIdentificationType identification = new OrganizationIdentificationType();
        String cbe = System.getenv("SEG_CUSTOMER_CBE");
        if (cbe != null && !cbe.isEmpty()) {
            identification.setCbeNumber(cbe);
        } else {
            identification.setSector(Integer.valueOf(env("SEG_CUSTOMER_SECTOR")));
            identification.setInstitution(Integer.valueOf(env("SEG_CUSTOMER_INSTITUTION")));
        }
        InformationCustomerType customer = new InformationCustomerType();
        customer.setTicket(UUID.randomUUID().toString());
        customer.setTimestampSent(DatatypeFactory.newInstance().newXMLGregorianCalendar(new GregorianCalendar()));
        customer.setCustomerIdentification(identification);
        request.setInformationCustomer(customer);
        request.setLegalContext(env("SEG_LEGAL_CONTEXT"));
    }

    static void print(ConsultCareerResponseType answer) {
        print(answer.getStatus(), answer.getInformationCBSS(), answer.getSsin());
        CareerType career = answer.getCareer();
        if (career != null) {
            List<AffiliationType> affiliations =
                    career.getAffiliations() == null ? List.of() : career.getAffiliations().getAffiliation();
            int segments = 0;
            for (AffiliationType affiliation : affiliations) {
                if (affiliation.getCareerSegments() != null) {
                    segments += affiliation.getCareerSegments().getCareerSegment().size();
                }
            }
            line("career", career.getNisseReference() + " affiliations=" + affiliations.size()
                    + " segments=" + segments);
        }
    }

    static void print(ConsultContributionsResponseType answer) {
        print(answer.getStatus(), answer.getInformationCBSS(), answer.getSsin());
        if (answer.getContributions() != null) {
            for (ContributionDataType contribution : answer.getContributions().getContribution()) {
                line("contribution", contribution.getQuarter() + " fund="
                        + contribution.getSocialInsuranceFund().getCode());
            }
        }
    }

    static void print(StatusType status, InformationCBSSType cbss, SsinWithCanceledAndReplacesStatusType ssin) {
        line("status", status.getValue() + " " + status.getCode());
        line("description", status.getDescription());
        print(status.getInformation());
        line("ticketCBSS", cbss.getTicketCBSS());
        if (ssin != null) {
            line("ssin", ssin.getValue());
        }
    }

    static void print(FaultCode faultCode, String faultString, CBSSFaultType fault) {
        line("fault", faultCode.localName + " " + faultString);
        for (MessageType detail : fault.getDetail()) {
            line("reasonCode", detail.getReasonCode());
            line("diagnostic", detail.getDiagnostic());
            print(detail.getInformation());
        }
        line("ticketCBSS", fault.getInformationCBSS().getTicketCBSS());
    }

    static void print(List<InformationType> informations) {
        for (InformationType information : informations) {
            line("information", information.getFieldName() + "=" + information.getFieldValue());
        }
    }

    static void line(String name, String value) {
        System.out.println(name + ": " + value);
    }

    static String env(String name) {
        String value = System.getenv(name);
        if (value == null || value.isEmpty()) {
            throw new IllegalStateException(name + " is not set (see examples/clients/README.md)");
        }
        return value;
    }

    /**
     * Keeps the faultcode of a SOAP fault answer: the generated fault exceptions carry only its
     * faultstring (getMessage) and its detail (getFaultInfo).
     */
    static final class FaultCode implements SOAPHandler<SOAPMessageContext> {
        String localName = "";

        @Override
        public boolean handleFault(SOAPMessageContext context) {
            try {
                localName = context.getMessage().getSOAPBody().getFault().getFaultCodeAsQName().getLocalPart();
            } catch (SOAPException e) {
                throw new IllegalStateException(e);
            }
            return true;
        }

        @Override
        public boolean handleMessage(SOAPMessageContext context) {
            return true;
        }

        @Override
        public Set<QName> getHeaders() {
            return Set.of();
        }

        @Override
        public void close(MessageContext context) {
        }
    }
}
