<?php
// This file is part of Moodle - https://moodle.org/
//
// Moodle is free software: you can redistribute it and/or modify
// it under the terms of the GNU General Public License as published by
// the Free Software Foundation, either version 3 of the License, or
// (at your option) any later version.
//
// Moodle is distributed in the hope that it will be useful,
// but WITHOUT ANY WARRANTY; without even the implied warranty of
// MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.  See the
// GNU General Public License for more details.
//
// You should have received a copy of the GNU General Public License
// along with Moodle.  If not, see <https://www.gnu.org/licenses/>.

/**
 * Strings for local_whatsappnotifier (es).
 *
 * @package    local_whatsappnotifier
 * @copyright  2026 The notifier team
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

defined('MOODLE_INTERNAL') || die();

$string['endpoint'] = 'URL del notificador';
$string['endpoint_desc'] = 'URL base del servicio notificador, por ejemplo https://notifier.example.com. Los eventos se envían a esta URL seguida de /webhooks/moodle. Déjela vacía para no enviar nada. Moodle bloquea un notificador en 127.0.0.1, en una red privada o en un puerto distinto de 80 y 443 hasta que los ajustes de seguridad HTTP lo permitan (véase el README del plugin).';
$string['errordeliveryretry'] = 'El envío de {$a->event} a {$a->url} ha fallado y se reintentará: {$a->result}';
$string['errorendpoint'] = 'Introduzca una URL absoluta http:// o https:// sin parámetros ni fragmento.';
$string['errornoendpoint'] = 'No hay ninguna URL del notificador configurada.';
$string['errorroles'] = 'No es un nombre corto de rol: {$a}';
$string['errorsecretbase64'] = 'Tras whsec_ el secreto debe ser base64 estándar con relleno (A-Z, a-z, 0-9, +, / y =).';
$string['errorsecretlength'] = 'El secreto debe decodificarse en 24 a 64 bytes.';
$string['errorsecretmissing'] = 'No hay ningún secreto de firma configurado.';
$string['errorsecretprefix'] = 'El secreto debe empezar por whsec_.';
$string['event_course_completed'] = 'Curso finalizado (course_completed)';
$string['event_course_module_completion_updated'] = 'Finalización de actividad actualizada (course_module_completion_updated)';
$string['event_course_updated'] = 'Curso actualizado (course_updated)';
$string['event_scorm_status_submitted'] = 'Estado de SCORM enviado (scorm_status_submitted)';
$string['event_user_enrolment_created'] = 'Usuario matriculado (user_enrolment_created)';
$string['event_user_enrolment_deleted'] = 'Usuario desmatriculado (user_enrolment_deleted)';
$string['event_user_enrolment_updated'] = 'Matriculación actualizada (user_enrolment_updated)';
$string['event_user_updated'] = 'Perfil de usuario actualizado (user_updated)';
$string['events'] = 'Eventos que se envían';
$string['events_desc'] = 'Solo se envían al notificador los eventos marcados aquí.';
$string['phonefield'] = 'Campo de teléfono';
$string['phonefield_desc'] = 'El campo del usuario que contiene el número de WhatsApp: Teléfono, Teléfono móvil o un campo de perfil personalizado.';
$string['phonefieldprofile'] = 'Campo de perfil personalizado: {$a->name} ({$a->shortname})';
$string['pluginname'] = 'Notificador de WhatsApp';
$string['privacy:metadata:whatsappnotifier'] = 'Los eventos de matriculación, SCORM y finalización se envían al servicio notificador de WhatsApp configurado por el administrador, que los usa para enviar mensajes de WhatsApp a los estudiantes.';
$string['privacy:metadata:whatsappnotifier:courseid'] = 'El curso al que pertenece el evento, con sus nombres y fechas.';
$string['privacy:metadata:whatsappnotifier:email'] = 'La dirección de correo del usuario.';
$string['privacy:metadata:whatsappnotifier:enrolment'] = 'La matriculación del usuario en el curso: su estado, inicio y fin.';
$string['privacy:metadata:whatsappnotifier:eventdata'] = 'El evento de Moodle tal como se registró: ids del usuario que actuó y del usuario afectado, del curso y de la actividad, y la hora del evento.';
$string['privacy:metadata:whatsappnotifier:firstname'] = 'El nombre del usuario.';
$string['privacy:metadata:whatsappnotifier:lang'] = 'El idioma preferido del usuario.';
$string['privacy:metadata:whatsappnotifier:lastname'] = 'Los apellidos del usuario.';
$string['privacy:metadata:whatsappnotifier:phone'] = 'El número de teléfono del usuario, del campo de teléfono configurado.';
$string['privacy:metadata:whatsappnotifier:progress'] = 'El progreso SCORM del usuario en el curso: actividades completadas de las que tienen seguimiento.';
$string['privacy:metadata:whatsappnotifier:roles'] = 'Los roles del usuario en el curso.';
$string['privacy:metadata:whatsappnotifier:timezone'] = 'La zona horaria del usuario.';
$string['privacy:metadata:whatsappnotifier:userid'] = 'El id del usuario.';
$string['privacy:metadata:whatsappnotifier:username'] = 'El nombre de usuario.';
$string['roles'] = 'Roles de estudiante';
$string['roles_desc'] = 'Nombres cortos de rol, separados por comas, que se notifican como estudiantes, por ejemplo "student". No se envían los eventos de usuarios que no tienen ninguno de estos roles en el curso, de modo que los números de profesores y gestores nunca salen del sitio; una actualización de perfil se envía cuando el usuario tiene uno de ellos en algún curso. Las desmatriculaciones se envían siempre. Déjelo vacío para enviar los eventos de todos los usuarios.';
$string['secret'] = 'Secreto de firma';
$string['secret_desc'] = 'El secreto compartido con el notificador (su MOODLE_WEBHOOK_SECRET): whsec_ seguido del base64 de 24 a 64 bytes aleatorios. Cada envío se firma con él (Standard Webhooks).';
$string['settings'] = 'Ajustes del notificador de WhatsApp';
$string['settingsintro'] = 'Envía los eventos de matriculación, SCORM y finalización al servicio notificador de WhatsApp, firmados con el secreto compartido. Después de guardar, compruebe la conexión en la <a href="{$a}">página de evento de prueba</a>.';
$string['taskdeliverevent'] = 'Enviar un evento al notificador de WhatsApp';
$string['testevent'] = 'Enviar un evento de prueba';
$string['testevent_desc'] = 'Envía ahora al notificador un evento de prueba firmado (nombre de evento "test_event") y muestra su respuesta. El notificador comprueba la firma, registra el evento y responde 202 "ignored" sin enviar mensajes a nadie.';
$string['testeventblocked'] = 'Moodle bloqueó la petición antes de enviarla. Para llegar a un notificador en 127.0.0.1, en un host privado o en otro puerto, cambie los <a href="{$a}">ajustes de seguridad HTTP</a>: quite las direcciones del notificador de la "Lista de hosts bloqueados de cURL" (para 127.0.0.1 quite tanto 127.0.0.0/8 como localhost) y añada su puerto a la "Lista de puertos permitidos de cURL".';
$string['testeventbody'] = 'Cuerpo de la respuesta';
$string['testeventerror'] = 'Error de transporte';
$string['testeventnoanswer'] = 'El notificador no respondió: {$a}';
$string['testeventok'] = 'El notificador aceptó el evento de prueba (HTTP {$a}).';
$string['testeventrefused'] = 'El notificador respondió HTTP {$a}. Un 401 significa que el secreto o el reloj no coinciden con los del notificador.';
$string['testeventsend'] = 'Enviar evento de prueba';
$string['testeventstatus'] = 'Estado HTTP';
$string['testeventtarget'] = 'Los envíos van a: {$a}';
$string['whatsappnotifier:viewprogress'] = 'Ver el progreso SCORM de todos los usuarios matriculados (notificador de WhatsApp)';
